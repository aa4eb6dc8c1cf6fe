import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { removeSidecars } from "../storage/backups";
import { MIGRATIONS, migrate } from "../storage/migrations";
import { workerFile } from "../worker-file";
import { UploadError } from "./upload";

/** Tables and columns the log db has had since migration 1; a backup without them is not ours. */
const REQUIRED: Record<string, readonly string[]> = {
  log: ["t", "client_id", "author", "tx_data", "datoms", "tempids", "time"],
  snapshots: ["t", "db", "time"],
  meta: ["key", "value"],
};

/** meta keys whose values the server reads as numbers (log floor, the restore's fork guard). */
const INTEGER_META = ["log_floor", "resync_through"];

/** Every schema object of a db, as "type name" -> its SQL with whitespace collapsed. */
function schemaOf(db: Database.Database): Map<string, string> {
  const rows = db.prepare("SELECT type, name, sql FROM sqlite_master").all() as Array<{ type: string; name: string; sql: string | null }>;
  return new Map(rows.map((r) => [`${r.type} ${r.name}`, (r.sql ?? "").replace(/\s+/g, " ").trim()]));
}

/** The schema a db migrated to `version` holds: exactly what this server creates. */
function schemaAt(version: number): Map<string, string> {
  const db = new Database(":memory:");
  try {
    migrate(db, MIGRATIONS.slice(0, version));
    return schemaOf(db);
  } finally {
    db.close();
  }
}

/**
 * Checks an uploaded backup before anything is drained: it is a SQLite db whose schema is
 * exactly what this server creates at its version (not newer), its full integrity_check
 * passes, it has the log's tables, and the meta values read as numbers are integers.
 * Throws an UploadError (422) that says what is wrong. Deeper damage (a log that does not
 * replay) is caught when the server opens it, and then the previous db is put back.
 *
 * The schema comes first, before anything evaluates it (found in review): the server
 * runs the db's own schema, so a trigger in an upload (`BEFORE INSERT ON log ... RAISE
 * (IGNORE)`) silently dropped every acked transaction after the restore, and an index on
 * a costly expression held the event loop for seconds in integrity_check.
 */
export function validateUpload(file: string): void {
  const refuse = (why: string) => new UploadError(422, "not_a_backup", `the upload is not a usable sync server backup: ${why}; nothing was changed`);
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw refuse(`it does not open as a SQLite db (${(err as { code?: string }).code ?? "error"})`);
  }
  try {
    // SQLite's own errors (a damaged or foreign file) while reading it.
    const readable = <T>(read: () => T): T => {
      try {
        return read();
      } catch (err) {
        throw refuse(`it is not a readable SQLite db (${(err as { code?: string }).code ?? "error"})`);
      }
    };
    const version = readable(() => db.pragma("user_version", { simple: true }) as number);
    const schema = readable(() => schemaOf(db));
    if (version < 1) throw refuse("it has no schema version (an empty or foreign db)");
    if (version > MIGRATIONS.length) throw refuse(`it was written by a newer server (schema ${version}, this server knows ${MIGRATIONS.length}); upgrade the server first`);
    const expected = schemaAt(version);
    for (const [key, sql] of schema) {
      const want = expected.get(key);
      if (want === undefined) throw refuse(`it holds ${key.slice(0, 100)}, which this server never creates (only its own tables and indexes are accepted)`);
      if (want !== sql) throw refuse(`its ${key.slice(0, 100)} is not defined as this server defines it`);
    }
    const check = readable(() => db.pragma("integrity_check", { simple: true }));
    if (check !== "ok") throw refuse(`integrity_check failed (${String(check).slice(0, 200)})`);
    for (const [table, columns] of Object.entries(REQUIRED)) {
      const have = new Set((db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as Array<{ name: string }>).map((c) => c.name));
      const missing = columns.filter((c) => !have.has(c));
      if (missing.length > 0) throw refuse(`table ${table} lacks ${missing.join(", ")}`);
    }
    db.prepare("SELECT count(*) FROM log").get();
    for (const key of INTEGER_META) {
      const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as { value: unknown } | undefined;
      if (row && !/^\d{1,15}$/.test(String(row.value))) throw refuse(`meta ${key} is ${JSON.stringify(String(row.value).slice(0, 40))}, not a whole number`);
    }
  } finally {
    db.close();
    // A read-only open of a WAL-mode file leaves empty -wal/-shm files beside it.
    removeSidecars(file);
  }
}

/** What the validation worker posts: ok, or the refusal (an UploadError's fields, or a crash's message). */
export type ValidateVerdict = { ok: true } | { ok: false; status?: number; code?: string; message: string };

/**
 * validateUpload on a worker thread (admin/validate-worker.ts). Run on the event loop,
 * integrity_check of a large upload held every client's acks for as long as it read the
 * file. Rejects with the same UploadError; a worker that dies without a verdict rejects
 * with an Error (a 500: nothing was changed either way).
 */
export function validateUploadOffThread(file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerFile(__filename, "validate-worker.js"), { workerData: { file }, stdout: false, stderr: false });
    let settled = false;
    worker.once("message", (verdict: ValidateVerdict) => {
      settled = true;
      if (verdict.ok) resolve();
      else reject(verdict.status !== undefined && verdict.code !== undefined ? new UploadError(verdict.status, verdict.code, verdict.message) : new Error(`validating the upload failed: ${verdict.message}`));
    });
    worker.once("error", (err: Error) => {
      if (!settled) reject(new Error(`validating the upload failed: ${err.message}`));
      settled = true;
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`the upload's validation worker exited with ${code} before answering`));
      settled = true;
    });
  });
}
