import fs from "node:fs";

/**
 * Where the WAL's fsync runs: on the calling (event-loop) thread while the disk is fast,
 * on libuv's thread pool once it is slow.
 *
 * The pool keeps the loop free while the disk flushes, but the hand-off is not free: it
 * wakes a pool thread, then the loop again. On the 2-core benchmark machine that cost
 * ~65 µs of CPU and ~80 µs of latency per fsync (fs.fsync: 277 µs wall, 121 µs CPU;
 * fs.fsyncSync: 193 µs wall, 56 µs CPU, for the same 100-byte write), and a group commit
 * pays it once per group: a lone writer's groups are a few transactions each. Blocking
 * the loop for an fsync that fast costs less than handing it off; blocking it for a slow
 * disk's milliseconds (a network volume, a disk other processes are flushing) stalls
 * reads, presence and fan-out for as long, so the pool takes over there.
 *
 * Only inline fsyncs are timed: a pool fsync's callback also waits for the loop, which
 * says nothing about the disk. So while on the pool, one fsync every `probeEveryMs` runs
 * inline to learn whether the disk got fast again.
 */
export interface WalFsyncOptions {
  /** Inline while the running average of inline fsyncs is at or below this. */
  readonly inlineBelowMs?: number;
  /** While on the pool, how often one fsync runs inline to measure the disk. */
  readonly probeEveryMs?: number;
  /** The first estimate, in ms (the boot fsync's time); above inlineBelowMs, fsyncs start on the pool. */
  readonly initialMs?: number;
  readonly now?: () => number;
  readonly fsyncSync?: (fd: number) => void;
  readonly fsync?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
}

/** An average over roughly the last 4 inline fsyncs: one slow fsync moves it, a run of them decides. */
const WEIGHT = 0.25;

export class WalFsync {
  /** Running average of inline fsync times, in ms. */
  private averageMs: number;
  private lastProbeAt = -Infinity;
  private readonly inlineBelowMs: number;
  private readonly probeEveryMs: number;
  private readonly now: () => number;
  private readonly fsyncSync: (fd: number) => void;
  private readonly fsync: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
  /** Counts, for tests and the logs. */
  readonly counts = { inline: 0, pool: 0 };

  constructor(options: WalFsyncOptions = {}) {
    this.inlineBelowMs = options.inlineBelowMs ?? 0.5;
    this.probeEveryMs = options.probeEveryMs ?? 1000;
    this.averageMs = options.initialMs ?? Infinity;
    this.now = options.now ?? (() => performance.now());
    this.fsyncSync = options.fsyncSync ?? fs.fsyncSync;
    this.fsync = options.fsync ?? fs.fsync;
  }

  /** Whether the next fsync runs inline. */
  get inline(): boolean {
    return this.averageMs <= this.inlineBelowMs || this.now() - this.lastProbeAt >= this.probeEveryMs;
  }

  /** The running average of inline fsyncs, in ms (Infinity before the first). */
  get estimateMs(): number {
    return this.averageMs;
  }

  /** fsyncs fd, then calls done: never before this returns, so callers see one order either way. */
  sync(fd: number, done: (err: Error | null) => void): void {
    if (!this.inline) {
      this.counts.pool++;
      this.fsync(fd, (err) => done(err));
      return;
    }
    this.counts.inline++;
    const started = this.now();
    try {
      this.fsyncSync(fd);
    } catch (err) {
      process.nextTick(done, err as Error);
      return;
    }
    this.record(this.now() - started);
    process.nextTick(done, null);
  }

  /** Adds one inline fsync's time (also the boot fsync's, measured by the store). */
  record(ms: number): void {
    this.lastProbeAt = this.now();
    this.averageMs = Number.isFinite(this.averageMs) ? this.averageMs + WEIGHT * (ms - this.averageMs) : ms;
  }
}
