import type { Logger } from "pino";
import { type Db, type DatascriptSchema, TX0, allDatoms, dbGrowth, deserialize, emptyDb, entityExists, identityExists, replay, retractionSize, serialize, transact, type WireDatom } from "../datalog/datascript";
import { plainEdits } from "../datalog/plain-edits";
import { type AttributeSpec, datascriptSchema } from "../datalog/schema";
import { txFailed } from "../datalog/tx-errors";
import { orderUpserts } from "../datalog/upserts";
import { validateTx } from "../datalog/validate";
import { ErrorCode, SyncError } from "../errors";
import { clientIdKey } from "../storage/client-id-index";
import { type LogEntry, loggedBytes, type Store } from "../storage/store";
import type { BuiltSnapshot, SnapshotBuilder } from "./snapshot-builder";
import { LOG_CATCH_UP_ALWAYS_BYTES, LogBytes } from "./log-bytes";
import { sameTxData } from "./tx-hash";
import { foldedDb, type HeadMark, WriterHead } from "./writer-head";

export interface Ack {
  readonly t: number;
  readonly tempids: Record<string, number>;
}

/** A transaction applied to the head: its t, datoms and resolved tempids. */
type Applied = { t: number; datoms: WireDatom[]; tempids: Record<string, number> };

export type SubmitResult = { ok: true; ack: Ack } | { ok: false; error: SyncError };
export type SubmitCallback = (result: SubmitResult) => void;

export type CatchUp =
  | { kind: "log"; t: number; entries: Iterable<LogEntry> }
  | { kind: "snapshot"; t: number; datoms: WireDatom[] };

export interface EngineOptions {
  readonly schema: Readonly<Record<string, AttributeSpec>>;
  readonly maxTxDatoms: number;
  /**
   * Write a snapshot every this many transactions, and once the log since the last one
   * holds at least a tenth of the db's size in bytes (SNAPSHOT_GROWTH).
   */
  readonly snapshotEvery: number;
  /** Keep at least this many transactions in the log for catch-up. */
  readonly logRetain: number;
  readonly logger: Logger;
  /** Asked before a new transaction is applied; a SyncError refuses it (e.g. storage_full). */
  readonly admit?: () => SyncError | null;
  /** Called after each group commit with its size and duration. */
  readonly onGroupCommit?: (size: number, seconds: number) => void;
  /**
   * Builds periodic snapshots off the event loop. Without one, the engine serializes
   * synchronously (fine for small dbs and the CLI).
   */
  readonly builder?: SnapshotBuilder;
  /** Whether the db is big enough for the builder; a small one is cheaper to serialize right here. */
  readonly snapshotOffThread?: () => boolean;
  /** Called with every snapshot the builder made, e.g. to share its frames with joining clients. */
  readonly onSnapshot?: (snapshot: BuiltSnapshot) => void;
  /**
   * The log could not be made durable (fsync failed): what the disk holds is unknown, so
   * the process must restart and replay the log. Default: throw (the process exits).
   */
  readonly onFatal?: (err: Error) => void;
}

/**
 * A snapshot also waits until the datoms logged since the last one reach this share of
 * the db, both in bytes. A snapshot costs work in proportion to the whole db (serializing
 * 1M datoms is ~5 s of the worker's CPU), the log replayed at boot grows only with what
 * was logged: at 1M datoms and 1,000 transactions apart, steady writes kept the worker
 * serializing without pause, on cores the writer needs. With a tenth, a snapshot's cost
 * per logged byte stays bounded whatever the db's size, and boot replays at most about a
 * tenth of the db. Bytes, not datoms: a db of few datoms may hold 100 MB of values, and
 * its size in datoms at boot is only guessed from the snapshot's length.
 */
const SNAPSHOT_GROWTH = 0.1;

interface Pending {
  readonly key: string;
  readonly entry: LogEntry;
  readonly callbacks: SubmitCallback[];
}

/** Transactions written to the log together, waiting for (or past) their fsync. */
interface Group {
  readonly batch: Pending[];
  /** The head once this group is applied. */
  readonly head: HeadMark;
  readonly started: bigint;
}

/**
 * The single writer. Transactions are applied to the in-memory head db at once, then
 * written to the log in groups (everything that arrived in one event-loop turn). A
 * group is acked and broadcast only once an fsync of the log that began after its write
 * has finished: durable. Store.sync may run the fsync off the event loop (SqliteStore
 * does while the disk is slow, storage/wal-fsync.ts); while one is in flight the loop
 * keeps applying and writing the next groups, and the next fsync covers all of them
 * (group commit). Its callback never comes before sync() returns, either way. Readers
 * (queries, snapshots, catch-up) only ever see the durable, committed db.
 */
export class SyncEngine {
  private committed: HeadMark;
  /** Every transaction applied, durable or not; plain edits wait there for datascript (writer-head.ts). */
  private readonly head: WriterHead;
  private committedT: number;
  private snapshotT: number;
  private pending: Pending[] = [];
  /** Every transaction not yet durable, by (author, clientId): a resend waits for the first. */
  private readonly pendingByKey = new Map<string, Pending>();
  private flushScheduled = false;
  /** The head once every written group is applied: what a failed write rolls back to. */
  private writtenHead: HeadMark;
  /** Written, waiting for the next fsync. */
  private written: Group[] = [];
  /** Covered by the fsync in flight. */
  private syncing: Group[] | null = null;
  /** When the fsync in flight began (performance.now()), or null when none is. */
  private syncStartedAt: number | null = null;
  private readonly idleWaiters: Array<() => void> = [];
  private failed: Error | null = null;
  private readonly listeners: Array<(entries: readonly LogEntry[]) => void> = [];
  private readonly dsSchema: DatascriptSchema;
  /** Ref attributes: a retracted entity's refs are counted against the datom limit too. */
  private readonly refAttrs: readonly string[];
  private snapshotting = false;
  /** About how many datoms the db held at boot. */
  readonly bootDatoms: number;
  /** About how many datoms the db holds now, net of retractions (see approxDatoms). */
  private datomCount: number;
  /** About how many bytes the db holds now (see approxBytes). */
  private byteCount: number;
  /** Bytes of datoms logged (retractions too: the log rows' text) since the last snapshot began. */
  private loggedSinceSnapshot = 0;
  /** Bytes logged per recent t: prices a catch-up from the log (logCatchUpFits). */
  private readonly logBytes = new LogBytes();
  private closed = false;

  private constructor(
    private readonly store: Store,
    private readonly options: EngineOptions,
  ) {
    this.dsSchema = datascriptSchema(options.schema);
    this.refAttrs = Object.keys(options.schema).filter((a) => options.schema[a]!.type === "ref");
    const started = Date.now();
    const snapshot = store.latestSnapshot();
    let { db, t } = snapshot ? deserialize(snapshot.db, this.dsSchema) : { db: emptyDb(this.dsSchema), t: TX0 };
    this.snapshotT = snapshot ? t : TX0;
    this.logBytes.reset(t);
    let replayed = 0;
    let replayedDatoms = 0;
    let replayedBytes = 0;
    for (const entry of store.readAfter(t)) {
      const report = replay(db, entry.datoms);
      if (report.t !== entry.t) throw new Error(`log is not contiguous: expected t=${report.t}, found t=${entry.t}`);
      ({ db, t } = report);
      replayed++;
      const growth = dbGrowth(entry.datoms);
      replayedDatoms += growth.datoms;
      replayedBytes += growth.bytes;
      this.loggedSinceSnapshot += loggedBytes(entry);
      this.logBytes.record(entry.t, loggedBytes(entry));
    }
    this.head = new WriterHead(db, t);
    this.committed = this.writtenHead = this.head.mark();
    this.committedT = t;
    // The serialized snapshot runs to roughly 30 bytes per datom; the log after it adds its net growth.
    this.bootDatoms = this.datomCount = Math.max(0, Math.round((snapshot?.db.length ?? 0) / 30) + replayedDatoms);
    this.byteCount = Math.max(0, (snapshot?.db.length ?? 0) + replayedBytes);
    options.logger.info({ t, snapshotT: this.snapshotT, replayed, ms: Date.now() - started }, "db loaded");
  }

  /** Loads the latest snapshot and replays the log after it. */
  static open(store: Store, options: EngineOptions): SyncEngine {
    return new SyncEngine(store, options);
  }

  /** The newest committed tx id. */
  get t(): number {
    return this.committedT;
  }

  /**
   * About how many datoms the committed db holds: the boot estimate plus each commit's
   * net growth. A replaced value adds one datom and retracts one, so steady edits of a
   * small db leave it small.
   */
  get approxDatoms(): number {
    return this.datomCount;
  }

  /**
   * About how many bytes the committed db holds: the snapshot's length at boot plus each
   * commit's net growth (datomBytes). Few datoms can be many megabytes.
   */
  get approxBytes(): number {
    return this.byteCount;
  }

  /**
   * How long the log's fsync in flight has been running, in ms; 0 when none is. Every
   * ack waits for it, so a disk that stops answering (a network volume's outage, a hung
   * device) shows here while the loop itself keeps running.
   */
  fsyncRunningMs(now = performance.now()): number {
    return this.syncStartedAt === null ? 0 : now - this.syncStartedAt;
  }

  /** The committed db: what every client has been sent. */
  get db(): Db {
    return foldedDb(this.committed);
  }

  onCommit(listener: (entries: readonly LogEntry[]) => void): void {
    this.listeners.push(listener);
  }

  /**
   * Validates and applies tx, then calls done once it is durable (or rejected).
   * The same (author, clientId) with the same tx-data yields the first ack, never a second
   * transaction; with different tx-data it is rejected as id_conflict.
   */
  submit(author: string, clientId: string, tx: unknown[], done: SubmitCallback): void {
    const key = clientIdKey(author, clientId);
    // Only a reused id is hashed (tx-hash.ts): a fresh one, nearly every submit, never is.
    const isResend = (entry: LogEntry): boolean | null => {
      try {
        if (sameTxData(entry, tx)) return true;
        done({ ok: false, error: new SyncError(ErrorCode.ID_CONFLICT, `transaction id "${clientId.slice(0, 40)}" was already used for different tx-data; give every transaction a fresh id (a UUID)`) });
      } catch (err) {
        done({ ok: false, error: txFailed(err) });
      }
      return null;
    };
    const inFlight = this.pendingByKey.get(key);
    if (inFlight) {
      if (isResend(inFlight.entry)) inFlight.callbacks.push(done);
      return;
    }
    if (this.failed) {
      done({ ok: false, error: new SyncError(ErrorCode.STORAGE_ERROR, "the server could not make the log durable and is restarting; resend after reconnecting") });
      return;
    }
    const logged = this.store.findByClientId(author, clientId);
    if (logged) {
      if (isResend(logged)) done({ ok: true, ack: { t: logged.t, tempids: logged.tempids } });
      return;
    }
    const refused = this.options.admit?.();
    if (refused) {
      done({ ok: false, error: refused });
      return;
    }
    let report: Applied | null = null;
    try {
      // Explicit ids are checked against the head: it holds the committed db plus this
      // group's earlier transactions, which commit (or fail) together with this one.
      const edits = plainEdits(tx, this.options.schema);
      // A plain edit makes at most two datoms (the old value out, the new one in).
      if (edits && edits.length * 2 <= this.options.maxTxDatoms) {
        validateTx(tx, this.options.schema, this.options.maxTxDatoms, (e) => this.head.entityExists(e));
        // Folded before, not after: a fold that threw would leave this transaction applied but never logged.
        if (this.head.lagFull) this.head.db();
        const applied = this.head.applyPlain(edits);
        if (applied) report = { ...applied, tempids: {} };
      }
      if (!report) report = this.transactWithDatascript(tx);
    } catch (err) {
      done({ ok: false, error: txFailed(err) });
      return;
    }
    if (!report) return done({ ok: false, error: new SyncError(ErrorCode.TX_TOO_LARGE, `transaction produced more than SYNC_MAX_TX_DATOMS=${this.options.maxTxDatoms} datoms`) });
    const pending: Pending = {
      key,
      entry: { t: report.t, clientId, author, txData: tx, datoms: report.datoms, datomsJson: JSON.stringify(report.datoms), tempids: report.tempids, time: Date.now() },
      callbacks: [done],
    };
    this.pending.push(pending);
    this.pendingByKey.set(key, pending);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      // After this turn's I/O callbacks: every frame already read joins this group.
      setImmediate(() => this.flush());
    }
  }

  /**
   * Applies tx with datascript on the head (the lag folded first); throws SyncError or
   * datascript's error when it is refused, and returns null, with nothing applied, when
   * its result has more datoms than SYNC_MAX_TX_DATOMS.
   */
  private transactWithDatascript(tx: unknown[]): Applied | null {
    const head = this.head.db();
    const named = validateTx(tx, this.options.schema, this.options.maxTxDatoms, (e) => entityExists(head, e), (e, a) => retractionSize(head, e, a, this.refAttrs));
    const ordered = orderUpserts(tx, this.options.schema, (a, v) => identityExists(head, a, v));
    // Each rerun (upserts.ts) walks the whole transaction again: the limit holds for all of them.
    if ((ordered.reruns + 1) * named > this.options.maxTxDatoms) {
      throw new SyncError(ErrorCode.TX_TOO_LARGE, `${ordered.reruns} tempids are upserted to existing entities after their first use, and each makes the ${named} datoms run again: over SYNC_MAX_TX_DATOMS=${this.options.maxTxDatoms}; give each entity its identity in the first item that names it, or use a lookup ref`);
    }
    const report = transact(head, ordered.tx);
    if (report.datoms.length > this.options.maxTxDatoms) return null;
    this.head.adopt(report.db, report.t);
    return report;
  }

  /**
   * Writes every pending transaction to the log as one group and starts an fsync for it
   * unless one is in flight (the next one then covers it). Acks follow the fsync.
   */
  flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const started = process.hrtime.bigint();
    const entries = batch.map((p) => p.entry);
    try {
      if (this.store.writeBatch) this.store.writeBatch(entries);
      else this.store.appendBatch(entries);
    } catch (err) {
      // Nothing of this group was written: forget it, as if it never arrived.
      this.head.rollback(this.writtenHead);
      for (const p of batch) this.pendingByKey.delete(p.key);
      this.options.logger.error({ err, size: batch.length }, "log append failed; transactions rejected");
      const error = new SyncError(ErrorCode.STORAGE_ERROR, "the server could not write the log; nothing was applied, retry later", { cause: err });
      for (const p of batch) for (const cb of p.callbacks) cb({ ok: false, error });
      this.wakeIfIdle();
      return;
    }
    this.writtenHead = this.head.mark();
    const group: Group = { batch, head: this.writtenHead, started };
    if (!this.store.sync) return this.durable([group]);
    this.written.push(group);
    if (!this.syncing) this.startSync();
  }

  private startSync(): void {
    const groups = (this.syncing = this.written);
    this.written = [];
    this.syncStartedAt = performance.now();
    this.store.sync!((err) => {
      this.syncing = null;
      this.syncStartedAt = null;
      if (err) return this.fatal(err);
      this.durable(groups);
      if (this.written.length > 0) this.startSync();
      else this.wakeIfIdle();
    });
  }

  /** Resolves drain() once nothing written awaits an fsync (or none ever will). */
  private wakeIfIdle(): void {
    if (this.failed || (!this.syncing && this.written.length === 0)) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /**
   * An fsync failed: Linux may already have dropped the dirty pages, so neither a retry
   * nor the in-memory state can be trusted. Nothing more is acked; the process restarts
   * and replays what the log really holds (clients resend what was not acked).
   */
  private fatal(err: Error): void {
    this.failed = err;
    this.options.logger.fatal({ err }, "fsync of the log failed; restarting to replay the log");
    this.wakeIfIdle();
    if (this.options.onFatal) this.options.onFatal(err);
    else
      process.nextTick(() => {
        throw err;
      });
  }

  /** The groups are on disk: ack, broadcast and feed the readers, oldest first. */
  private durable(groups: readonly Group[]): void {
    const last = groups[groups.length - 1]!;
    const size = groups.reduce((n, g) => n + g.batch.length, 0);
    this.options.onGroupCommit?.(size, Number(process.hrtime.bigint() - groups[0]!.started) / 1e9);
    this.committed = last.head;
    this.committedT = last.batch[last.batch.length - 1]!.entry.t;
    const entries: LogEntry[] = [];
    for (const group of groups) {
      for (const p of group.batch) {
        if (this.pendingByKey.get(p.key) === p) this.pendingByKey.delete(p.key);
        const ack = { t: p.entry.t, tempids: p.entry.tempids };
        for (const cb of p.callbacks) cb({ ok: true, ack });
        entries.push(p.entry);
        this.loggedSinceSnapshot += loggedBytes(p.entry);
        this.logBytes.record(p.entry.t, loggedBytes(p.entry));
        const growth = dbGrowth(p.entry.datoms);
        this.datomCount += growth.datoms;
        this.byteCount += growth.bytes;
      }
    }
    this.options.builder?.commit(entries);
    for (const listener of this.listeners) listener(entries);
    if (this.committedT - this.snapshotT >= this.options.snapshotEvery && this.loggedSinceSnapshot >= SNAPSHOT_GROWTH * this.byteCount) {
      if (this.options.builder && (this.options.snapshotOffThread?.() ?? true)) this.snapshotOffThread(this.options.builder);
      else this.snapshot();
    }
  }

  /** Writes what is pending and resolves once everything written is durable (and acked). */
  drain(): Promise<void> {
    this.flush();
    if (!this.syncing && this.written.length === 0) return Promise.resolve();
    if (this.failed) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Has the builder serialize the db on its thread, then stores the result. One at a
   * time: commits that arrive meanwhile wait for the next, so a big db is snapshotted as
   * often as the worker can build it, never more.
   */
  private snapshotOffThread(builder: SnapshotBuilder): void {
    if (this.snapshotting) return;
    this.snapshotting = true;
    // What this snapshot will cover (about: the worker builds at the newest t it has seen).
    const covered = this.loggedSinceSnapshot;
    builder
      .build(true)
      .then((built) => {
        if (this.closed) return;
        const started = Date.now();
        // The worker wrote the text as chunk rows; here only one short transaction makes it the snapshot.
        if (built.chunks > 0 && this.store.commitChunkedSnapshot) this.store.commitChunkedSnapshot(built.t, built.chunks, built.t - this.options.logRetain);
        else this.store.writeSnapshot({ t: built.t, db: built.db! }, built.t - this.options.logRetain);
        this.snapshotT = built.t;
        this.loggedSinceSnapshot = Math.max(0, this.loggedSinceSnapshot - covered);
        this.options.logger.debug({ t: built.t, chunks: built.chunks, writeMs: Date.now() - started }, "snapshot written");
        this.options.onSnapshot?.(built);
      })
      .catch((err: unknown) => this.options.logger.error({ err }, "snapshot failed"))
      .finally(() => {
        this.snapshotting = false;
      });
  }

  /** Makes everything durable, stops snapshotting; the store may be closed after this. */
  async close(): Promise<void> {
    await this.drain();
    this.closed = true;
    await this.options.builder?.close();
  }

  /** Writes a snapshot of the committed db and prunes the log behind the retention window. */
  snapshot(): void {
    const t = this.committedT;
    try {
      this.store.writeSnapshot({ t, db: serialize(this.db, this.dsSchema) }, t - this.options.logRetain);
      this.snapshotT = t;
      this.loggedSinceSnapshot = 0;
    } catch (err) {
      // Not fatal: the log still holds everything; the next commit retries.
      this.options.logger.error({ err, t }, "snapshot failed");
    }
  }

  /** Every t above this is in the log. */
  logFloor(): number {
    return this.store.logFloor();
  }

  /** Log entries after since, oldest first, stopping once about maxBytes of datoms are read. */
  logAfter(since: number, maxBytes: number): LogEntry[] {
    const entries: LogEntry[] = [];
    let bytes = 0;
    for (const entry of this.store.readAfter(since)) {
      // The log may hold groups whose fsync is still running: never hand those out.
      if (entry.t > this.committedT) break;
      entries.push(entry);
      // The row's own text when read back (values can be 256K characters: counting datoms
      // made one "16 KiB" catch-up batch tens of MB).
      bytes += 64 + loggedBytes(entry);
      if (bytes >= maxBytes) break;
    }
    return entries;
  }

  /**
   * Whether a client at `since` catches up from the log: the log still holds everything
   * after it, and that is known to be no bigger than the db (or small in any case). The log
   * is read, parsed and encoded for each such client, while snapshot frames are encoded
   * once and shared, so a client further behind costs less from a snapshot.
   */
  logCatchUpFits(since: number): boolean {
    if (since > this.committedT || since < this.store.logFloor()) return false;
    const bytes = this.logBytes.bytesAfter(since);
    return bytes !== null && bytes <= this.logCatchUpBudget;
  }

  /**
   * The most log one joiner may be sent, from `since` or after cached snapshot frames: the
   * db's own size, or LOG_CATCH_UP_ALWAYS_BYTES if that is more. Past it, frames encoded
   * once and shared cost less than the log read and encoded for that one client.
   */
  get logCatchUpBudget(): number {
    return Math.max(this.byteCount, LOG_CATCH_UP_ALWAYS_BYTES);
  }

  /**
   * What a client at `since` needs before going live: the log entries after it when
   * the log still holds them all, else a snapshot of the committed db.
   */
  catchUp(since: number | undefined): CatchUp {
    if (since !== undefined && this.logCatchUpFits(since)) {
      return { kind: "log", t: this.committedT, entries: this.logAfter(since, Infinity) };
    }
    return { kind: "snapshot", t: this.committedT, datoms: allDatoms(this.db) };
  }
}
