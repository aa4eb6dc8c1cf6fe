/**
 * How snapshots sit in SQLite. A snapshot written on the event loop (small dbs, the CLI)
 * is one row of `snapshots`. A large one (about 47 MB at 1M datoms) is written by the
 * snapshot worker as rows of `snapshot_chunks`, each in its own short transaction, and
 * becomes the latest snapshot only when the writer adds its `snapshots` row (chunks = N)
 * together with the log prune: a crash between leaves the previous snapshot and the
 * whole log, and the orphaned chunks are dropped by the next build. Writing 47 MB in one
 * transaction on the writer's connection held the event loop (and the write lock) for
 * seconds; a chunk holds the lock for about a millisecond.
 */
import type Database from "better-sqlite3";
import type { Snapshot } from "./store";

/** Characters per chunk row (about 0.5 MB of JSON). */
export const SNAPSHOT_CHUNK_CHARS = 512 * 1024;

/** The newest snapshot, in either layout. Call inside a read transaction so its rows are consistent. */
export function readLatestSnapshot(db: Database.Database): Snapshot | undefined {
  const row = db.prepare("SELECT t, db, chunks FROM snapshots ORDER BY t DESC LIMIT 1").get() as { t: number; db: string; chunks: number } | undefined;
  if (!row) return undefined;
  if (row.chunks === 0) return { t: row.t, db: row.db };
  const parts = db.prepare("SELECT data FROM snapshot_chunks WHERE t = ? ORDER BY seq").pluck().all(row.t) as string[];
  if (parts.length !== row.chunks) throw new Error(`snapshot t=${row.t} has ${parts.length} of its ${row.chunks} chunks`);
  return { t: row.t, db: parts.join("") };
}

/** Drops chunks no `snapshots` row refers to (replaced snapshots, a build cut short), one row per transaction. */
export function deleteOrphanChunks(db: Database.Database): number {
  const orphans = db.prepare("SELECT t, seq FROM snapshot_chunks WHERE t NOT IN (SELECT t FROM snapshots WHERE chunks > 0)").all() as Array<{ t: number; seq: number }>;
  const drop = db.prepare("DELETE FROM snapshot_chunks WHERE t = ? AND seq = ?");
  for (const { t, seq } of orphans) drop.run(t, seq);
  return orphans.length;
}

/**
 * Writes text as chunk rows for t, each its own transaction (autocommit). Not yet a
 * snapshot: Store.commitChunkedSnapshot makes it one. Returns the number of chunks.
 */
export function writeSnapshotChunks(db: Database.Database, t: number, text: string): number {
  const insert = db.prepare("INSERT OR REPLACE INTO snapshot_chunks (t, seq, data) VALUES (?, ?, ?)");
  let seq = 0;
  let at = 0;
  do {
    let end = Math.min(text.length, at + SNAPSHOT_CHUNK_CHARS);
    // Never between the two halves of a surrogate pair (an emoji, say): SQLite stores TEXT
    // as UTF-8, where half a pair cannot be written, and each half came back as U+FFFD.
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end -= 1;
    insert.run(t, seq++, text.slice(at, end));
    at = end;
  } while (at < text.length);
  return seq;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
