import { datomBytes, type WireDatom } from "../datalog/datascript";

/** One committed transaction, as logged. */
export interface LogEntry {
  readonly t: number;
  readonly clientId: string;
  readonly author: string;
  readonly txData: unknown[];
  /**
   * sha256 of the canonical tx-data (sync/tx-hash.ts): tells a resend from an id reused for
   * another tx. Absent when nobody needed it yet: only a resend does, so the writer never
   * pays for it on the way in (sameTxData computes it from txData).
   */
  readonly txHash?: string;
  readonly datoms: WireDatom[];
  /** JSON.stringify(datoms): made by the writer for the log row, or the row's text when read back. */
  readonly datomsJson?: string;
  readonly tempids: Record<string, number>;
  readonly time: number;
}

/** The bytes of datoms an entry logged: the log row's text, or (about) that from its datoms. */
export function loggedBytes(entry: LogEntry): number {
  return entry.datomsJson?.length ?? entry.datoms.reduce((n, d) => n + datomBytes(d), 0);
}

export interface Snapshot {
  readonly t: number;
  /** The serialized datascript db. */
  readonly db: string;
}

/**
 * Durable storage for the sync engine: an append-only log of transactions plus
 * periodic snapshots. appendBatch must be durable when it returns, since the
 * caller acks right after.
 */
export interface Store {
  /** Appends entries atomically and durably: all of them or none. */
  appendBatch(entries: readonly LogEntry[]): void;
  /**
   * Optional, with sync: appends entries atomically but returns before they are on disk.
   * They are durable once a sync() called after this returns has called back.
   */
  writeBatch?(entries: readonly LogEntry[]): void;
  /**
   * Makes everything written so far durable, then calls back (never before returning),
   * with an error if it could not. It may block for a fast fsync (storage/wal-fsync.ts).
   */
  sync?(done: (err: Error | null) => void): void;
  /** Log entries with t > since, oldest first. */
  readAfter(since: number): Iterable<LogEntry>;
  findByClientId(author: string, clientId: string): LogEntry | undefined;
  /** Every t above this is in the log; a client at or above it can catch up from the log. */
  logFloor(): number;
  latestSnapshot(): Snapshot | undefined;
  /** Stores a snapshot and drops log entries at or below pruneThrough. */
  writeSnapshot(snapshot: Snapshot, pruneThrough: number): void;
  /**
   * Optional: makes the `chunks` chunk rows another connection wrote for t (snapshot-rows.ts)
   * the latest snapshot, and drops log entries at or below pruneThrough. One short transaction.
   */
  commitChunkedSnapshot?(t: number, chunks: number, pruneThrough: number): void;
  /** Consistent online copy of the whole store to path. */
  backupTo(path: string): Promise<void>;
  close(): void;
}
