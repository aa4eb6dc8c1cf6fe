import crypto from "node:crypto";
import fs from "node:fs";
import { DatabaseSync } from "node:sqlite";
import type { WireDatom } from "../../protocol/src/frames";
import { CliError, Exit } from "./exit-codes";

/** What a backup file holds, read from the file alone. */
export interface BackupFacts {
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
  /** The newest tx id in it. */
  readonly t: number;
  /** Datoms in the db at t. */
  readonly datoms: number;
  /** The log schema version (PRAGMA user_version). */
  readonly schema: number;
}

/** datascript's first tx id is TX0 + 1 (server/src/datalog/datascript.ts). */
const TX0 = 536870912;

type Value = WireDatom[2];
/** datascript's `serializable` form, as the server stores it in `snapshots.db` beside the schema. */
interface StoredSnapshot {
  db: { "max-tx": number; attrs: string[]; eavt: Array<[number, number, Value, number]> };
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash("sha256");
    fs.createReadStream(file)
      .on("data", (c) => hash.update(c))
      .once("error", reject)
      .once("end", () => resolve(hash.digest("hex")));
  });
}

const bad = (file: string, why: string) => new CliError(Exit.VERIFY_FAILED, "backup_invalid", `${file} is not a usable backup: ${why}`);

/**
 * Opens a backup with SQLite (node:sqlite, read-only), runs the full integrity_check, then
 * rebuilds its datom set the way the server boots (server/src/sync/engine.ts): the newest
 * snapshot's datoms, then every logged transaction after it, in order, which must be
 * contiguous. The datom count is the size of that set. Independent of the server's
 * datascript, so a download is checked by a second reading of the bytes, not the server's word.
 */
export async function readBackupFacts(file: string): Promise<BackupFacts> {
  const bytes = fs.statSync(file).size;
  const sha256 = await sha256File(file);
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(file, { readOnly: true });
  } catch (err) {
    throw bad(file, `it does not open as SQLite (${(err as Error).message})`);
  }
  try {
    let integrity: string;
    try {
      integrity = String(Object.values((db.prepare("PRAGMA integrity_check").get() ?? {}) as Record<string, unknown>)[0]);
    } catch (err) {
      throw bad(file, `it is not a readable SQLite db (${(err as Error).message})`);
    }
    if (integrity !== "ok") throw bad(file, `integrity_check: ${integrity.slice(0, 200)}`);
    const schema = Number((db.prepare("PRAGMA user_version").get() as { user_version: number }).user_version);
    if (schema < 1) throw bad(file, "it has no log schema (user_version 0)");
    const { t, facts } = replay(db, file);
    return { file, bytes, sha256, t, datoms: facts.size, schema };
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw bad(file, (err as Error).message);
  } finally {
    db.close();
  }
}

/**
 * The newest snapshot's text, in either layout the server writes (server/src/storage/
 * snapshot-rows.ts): one `snapshots` row, or, for a large db since migration 4, rows of
 * `snapshot_chunks` joined in order, which its `snapshots` row counts. A backup from before
 * migration 4 has no `chunks` column.
 */
function latestSnapshotText(db: DatabaseSync, file: string): string | undefined {
  const chunked = db.prepare("SELECT 1 FROM pragma_table_info('snapshots') WHERE name = 'chunks'").get() !== undefined;
  const row = db.prepare(`SELECT t, db, ${chunked ? "chunks" : "0 AS chunks"} FROM snapshots ORDER BY t DESC LIMIT 1`).get() as { t: number; db: string; chunks: number } | undefined;
  if (!row) return undefined;
  if (row.chunks === 0) return row.db;
  const parts = (db.prepare("SELECT data FROM snapshot_chunks WHERE t = ? ORDER BY seq").all(row.t) as Array<{ data: string }>).map((r) => r.data);
  if (parts.length !== row.chunks) throw bad(file, `its snapshot t=${row.t} has ${parts.length} of its ${row.chunks} chunks`);
  return parts.join("");
}

/** The db a backup holds, as a set of JSON [e, a, v] strings, and its t: snapshot, then the log after it. */
function replay(db: DatabaseSync, file: string): { t: number; facts: Set<string> } {
  let t = TX0;
  const facts = new Set<string>();
  const text = latestSnapshotText(db, file);
  if (text !== undefined) {
    const stored = JSON.parse(text) as StoredSnapshot;
    for (const [e, ai, v] of stored.db.eavt) facts.add(JSON.stringify([e, stored.db.attrs[ai], v]));
    t = stored.db["max-tx"];
  }
  for (const row of db.prepare("SELECT t, datoms FROM log WHERE t > ? ORDER BY t").iterate(t) as Iterable<{ t: number; datoms: string }>) {
    if (row.t !== t + 1) throw bad(file, `its log is not contiguous (t=${row.t} follows t=${t})`);
    for (const [e, a, v, , added] of JSON.parse(row.datoms) as WireDatom[]) {
      const key = JSON.stringify([e, a, v]);
      if (added) facts.add(key);
      else facts.delete(key);
    }
    t = row.t;
  }
  return { t, facts };
}

/** Every datom in a backup as sorted JSON [e, a, v] strings (no integrity check; for comparing contents). */
export function readBackupDatoms(file: string): string[] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return [...replay(db, file).facts].sort();
  } finally {
    db.close();
  }
}
