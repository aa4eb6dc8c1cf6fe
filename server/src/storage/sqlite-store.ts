import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { TX0, type WireDatom } from "../datalog/datascript";
import { WalFsync } from "./wal-fsync";
import { ClientIdIndex } from "./client-id-index";
import { readLatestSnapshot } from "./snapshot-rows";
import { migrate, type MigrationResult } from "./migrations";
import { ensurePrivateDir } from "./private-dir";
import type { LogEntry, Snapshot, Store } from "./store";

export const DB_FILE = "sync.db";

interface LogRow {
  t: number;
  client_id: string;
  author: string;
  tx_data: string;
  /** Set only by writers from migration 3 until hashing moved to resends (LogEntry.txHash); NULL otherwise. */
  tx_hash: string | null;
  datoms: string;
  tempids: string;
  time: number;
}

function fromRow(row: LogRow): LogEntry {
  const txData = JSON.parse(row.tx_data) as unknown[];
  return {
    t: row.t,
    clientId: row.client_id,
    author: row.author,
    txData,
    // NULL since the writer stopped hashing on the way in, and before migration 3.
    ...(row.tx_hash === null ? {} : { txHash: row.tx_hash }),
    datoms: JSON.parse(row.datoms) as WireDatom[],
    datomsJson: row.datoms,
    tempids: JSON.parse(row.tempids) as Record<string, number>,
    time: row.time,
  };
}

/** How many snapshots to keep: the newest, plus one in case the newest is unreadable. */
const SNAPSHOTS_KEPT = 2;

/**
 * The log in SQLite, in WAL mode, so readers (backups, workers) never block the writer.
 *
 * Durability: a commit only appends to the WAL file. appendBatch then fsyncs the WAL
 * before returning; writeBatch returns at once and sync() fsyncs the WAL, inline while
 * the disk is fast and on libuv's thread pool while it is slow, so that a slow disk
 * holds the event loop only for the fsyncs that show it slow (wal-fsync.ts). Either way a
 * transaction is acked only after an fsync of the WAL that began after its commit: the
 * guarantee of synchronous=FULL (which fsyncs the WAL inside every commit, on the
 * calling thread), with one fsync for every group written meanwhile. The connection runs
 * synchronous=NORMAL, so SQLite still fsyncs the WAL before each checkpoint and the db
 * file after it; WAL recovery drops a commit whose frames did not all reach the disk.
 */
export class SqliteStore implements Store {
  readonly db: Database.Database;
  readonly migration: MigrationResult;
  private readonly insert: Database.Statement;
  // Prepared once: preparing (parsing SQL, planning) on every submit was the top frame of the writer's profile.
  private readonly selectByT: Database.Statement;
  private readonly selectLogFloor: Database.Statement;
  /** The WAL file, opened for fsync once SQLite has created it. */
  private walFd: number | null = null;
  /** Inline while the disk is fast, on libuv's pool while it is slow (wal-fsync.ts). */
  readonly walFsync = new WalFsync();
  /** Transactions written since the last sync(): how much this fsync makes durable. */
  private unsynced = 0;
  /** Logged client ids, in memory: fresh ids (nearly every submit) never reach SQLite. */
  private readonly clientIds = new ClientIdIndex();
  private readonly append: (entries: readonly LogEntry[]) => void;

  constructor(readonly file: string, serverVersion = "unknown") {
    ensurePrivateDir(path.dirname(file));
    this.db = new Database(file);
    try {
      this.db.pragma("journal_mode = WAL");
      // NORMAL: commits do not fsync here; appendBatch and sync() fsync the WAL (see above).
      this.db.pragma("synchronous = NORMAL");
      this.db.pragma("busy_timeout = 5000");
      this.migration = migrate(this.db);
      this.db.prepare("INSERT INTO boots (version, time) VALUES (?, ?)").run(serverVersion, Date.now());
    } catch (err) {
      this.db.close();
      throw err;
    }
    // Positional parameters: binding an object by name cost ~1.5 µs more per row.
    this.insert = this.db.prepare("INSERT INTO log (t, client_id, author, tx_data, tx_hash, datoms, tempids, time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    this.selectByT = this.db.prepare("SELECT * FROM log WHERE t = ?");
    this.selectLogFloor = this.db.prepare("SELECT value FROM meta WHERE key = 'log_floor'");
    // Migrations and the boot row are on disk before the first client is served, and the
    // first fsync of a new WAL (its inode, in the filesystem's journal: up to hundreds of ms
    // on a busy disk) is paid at boot, not by the first transaction.
    // Timed: a disk that is slow at boot starts with its fsyncs on the pool.
    this.walFsync.syncNow(this.wal());
    for (const row of this.db.prepare("SELECT t, author, client_id FROM log ORDER BY t").iterate() as Iterable<{ t: number; author: string; client_id: string }>) {
      this.clientIds.add(row.t, row.author, row.client_id);
    }
    this.append = this.db.transaction((entries: readonly LogEntry[]) => {
      for (const e of entries) {
        this.insert.run(e.t, e.clientId, e.author, JSON.stringify(e.txData), e.txHash ?? null, e.datomsJson ?? JSON.stringify(e.datoms), JSON.stringify(e.tempids), e.time);
      }
    });
  }

  appendBatch(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    this.writeBatch(entries);
    fs.fsyncSync(this.wal());
    // That fsync made everything written so far durable: the next sync() counts from here.
    this.unsynced = 0;
  }

  writeBatch(entries: readonly LogEntry[]): void {
    if (entries.length === 0) return;
    this.append(entries);
    // Only after the commit: a failed append logged nothing.
    for (const e of entries) this.clientIds.add(e.t, e.author, e.clientId);
    this.unsynced += entries.length;
  }

  sync(done: (err: Error | null) => void): void {
    let fd: number;
    try {
      fd = this.wal();
    } catch (err) {
      return process.nextTick(done, err as Error);
    }
    const transactions = this.unsynced;
    this.unsynced = 0;
    this.walFsync.sync(fd, done, transactions);
  }

  /**
   * The WAL's fd. SQLite keeps this file (it truncates or rewrites it, never replaces it)
   * while this connection is open, so one fd serves every fsync.
   */
  private wal(): number {
    this.walFd ??= fs.openSync(`${this.file}-wal`, "r");
    return this.walFd;
  }

  *readAfter(since: number): Iterable<LogEntry> {
    // Prepared per call: a statement shared by two open iterators would be "busy".
    const rows = this.db.prepare("SELECT * FROM log WHERE t > ? ORDER BY t").iterate(since) as Iterable<LogRow>;
    for (const row of rows) yield fromRow(row);
  }

  findByClientId(author: string, clientId: string): LogEntry | undefined {
    const t = this.clientIds.get(author, clientId);
    if (t === undefined) return undefined;
    const row = this.selectByT.get(t) as LogRow | undefined;
    // The row itself decides: the map is this store's view of the log, the row is the log.
    return row && row.author === author && row.client_id === clientId ? fromRow(row) : undefined;
  }

  logFloor(): number {
    const row = this.selectLogFloor.get() as { value: string } | undefined;
    return row ? Number(row.value) : TX0;
  }

  latestSnapshot(): Snapshot | undefined {
    return this.db.transaction(() => readLatestSnapshot(this.db))();
  }

  writeSnapshot(snapshot: Snapshot, pruneThrough: number): void {
    this.storeSnapshot(snapshot.t, snapshot.db, 0, pruneThrough);
  }

  commitChunkedSnapshot(t: number, chunks: number, pruneThrough: number): void {
    this.storeSnapshot(t, "", chunks, pruneThrough);
  }

  private storeSnapshot(t: number, text: string, chunks: number, pruneThrough: number): void {
    let pruned: number | null = null;
    this.db.transaction(() => {
      if (chunks > 0) {
        const have = this.db.prepare("SELECT count(*) FROM snapshot_chunks WHERE t = ?").pluck().get(t) as number;
        if (have !== chunks) throw new Error(`snapshot t=${t}: ${have} of its ${chunks} chunks are stored`);
      }
      this.db.prepare("INSERT OR REPLACE INTO snapshots (t, db, time, chunks) VALUES (?, ?, ?, ?)").run(t, text, Date.now(), chunks);
      this.db
        .prepare("DELETE FROM snapshots WHERE t NOT IN (SELECT t FROM snapshots ORDER BY t DESC LIMIT ?)")
        .run(SNAPSHOTS_KEPT);
      // Never prune past the snapshot: boot replays the log after it.
      const through = Math.min(pruneThrough, t);
      if (through > this.logFloor()) {
        this.db.prepare("DELETE FROM log WHERE t <= ?").run(through);
        this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('log_floor', ?)").run(String(through));
        pruned = through;
      }
    }).immediate();
    if (pruned !== null) this.clientIds.prune(pruned);
  }

  /** The db's size in bytes, pages in use (about what a backup copy takes). */
  byteSize(): number {
    return (this.db.pragma("page_count", { simple: true }) as number) * (this.db.pragma("page_size", { simple: true }) as number);
  }

  async backupTo(target: string): Promise<void> {
    await this.db.backup(target);
  }

  /** Folds the WAL into the main file so the volume holds one self-contained db. */
  checkpoint(): void {
    this.db.pragma("wal_checkpoint(TRUNCATE)");
  }

  close(): void {
    if (this.walFd !== null) {
      fs.closeSync(this.walFd);
      this.walFd = null;
    }
    if (this.db.open) this.db.close();
  }
}
