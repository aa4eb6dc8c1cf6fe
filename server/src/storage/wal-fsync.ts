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
 * reads, presence and fan-out for as long, so the pool takes over there. What still
 * blocks the loop on a disk that turns slow: the one inline fsync that shows it (a stall
 * of LEAVE_INLINE_AT_MS or more moves to the pool at once), and probes while the pool's
 * round trips stay under PROBE_ONLY_BELOW_MS.
 *
 * Only inline fsyncs decide: a pool fsync's callback also waits for the loop, so its
 * round trip only bounds the disk's time from above. While on the pool, one fsync every
 * `probeEveryMs` runs inline to learn whether the disk got fast again, unless the last
 * pool round trip already says it did not.
 */
export interface WalFsyncOptions {
  /** Inline while the median of recent inline fsyncs is at or below this. */
  readonly inlineBelowMs?: number;
  /** A sync that makes this many transactions durable runs on the pool, however fast the disk. */
  readonly poolFromTransactions?: number;
  /** While on the pool, how often one fsync runs inline to measure the disk. */
  readonly probeEveryMs?: number;
  readonly now?: () => number;
  readonly fsyncSync?: (fd: number) => void;
  readonly fsync?: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
}

/**
 * Inline while the median of the last 5 inline fsyncs is at most 2 ms. A median, not an
 * average: a single slow fsync (a checkpoint, a neighbour's flush) changes nothing; three
 * of five decide, either way. Under the benchmark's load this machine's inline fsyncs
 * have medians of 0.4-0.5 ms at 100 × 1 (inline nearly throughout) and 0.5-2.8 ms at
 * 100 × 16 (the two ways alternate). Inline throughout won at 100 × 1 in paired runs: 308
 * -> 212 µs of server CPU per edit and 2,672 -> 3,321 edits/s. (At 100 × 16 it saved CPU
 * at the same edits/s then; since the fan-out is paced, big groups do better on the pool:
 * POOL_FROM_TRANSACTIONS.) A first cut (a running
 * average, inline below 0.5 ms) sent nearly every fsync of those runs to the pool.
 * Slower than 2 ms (a network volume under load, a disk other processes are flushing),
 * a saturated server would lose more to the blocked loop than the hand-off costs, and
 * reads, presence and fan-out would wait as long.
 */
export const INLINE_BELOW_MS = 2;
/**
 * A sync for a group this big goes to the pool even on a fast disk. Such a group means
 * transactions arrive faster than the loop commits them, so more are waiting to be read
 * and applied while the disk flushes: blocking the loop then delays all of them, and the
 * hand-off's ~65 µs is paid once for the whole group. A lone writer's groups (8 edits in
 * flight) stay below it and keep the cheaper inline fsync. Paired runs of the benchmark
 * at 100 × 16 (groups of ~20-60), pool against inline: 6,679 -> 7,425, 7,119 -> 7,783 and
 * 6,999 -> 7,373 edits/s.
 */
export const POOL_FROM_TRANSACTIONS = 16;
const SAMPLES = 5;
/**
 * One inline fsync this slow moves every fsync to the pool at once, without waiting for
 * the median: a disk that stalls (a network volume's hiccup, a checkpoint storm) must not
 * hold the loop through three such fsyncs.
 */
export const LEAVE_INLINE_AT_MS = 20;
/**
 * No inline probe while the last pool fsync's round trip (an upper bound on the disk's
 * time) took longer than this: a disk known to be slow is never timed on the loop.
 */
export const PROBE_ONLY_BELOW_MS = 10;

export class WalFsync {
  /** The last SAMPLES inline fsync times, in ms, oldest first. */
  private readonly samples: number[] = [];
  private lastProbeAt = -Infinity;
  /** The last pool fsync's round trip, in ms (loop delays included). */
  private lastPoolMs = 0;
  private readonly inlineBelowMs: number;
  private readonly poolFromTransactions: number;
  private readonly probeEveryMs: number;
  private readonly now: () => number;
  private readonly fsyncSync: (fd: number) => void;
  private readonly fsync: (fd: number, done: (err: NodeJS.ErrnoException | null) => void) => void;
  /** How many fsyncs ran each way (tests; the server logs nothing per fsync). */
  readonly counts = { inline: 0, pool: 0 };

  constructor(options: WalFsyncOptions = {}) {
    this.inlineBelowMs = options.inlineBelowMs ?? INLINE_BELOW_MS;
    this.poolFromTransactions = options.poolFromTransactions ?? POOL_FROM_TRANSACTIONS;
    this.probeEveryMs = options.probeEveryMs ?? 1000;
    this.now = options.now ?? (() => performance.now());
    this.fsyncSync = options.fsyncSync ?? fs.fsyncSync;
    this.fsync = options.fsync ?? fs.fsync;
  }

  /** Whether the next fsync runs inline. */
  get inline(): boolean {
    if (this.estimateMs <= this.inlineBelowMs) return true;
    return this.lastPoolMs <= PROBE_ONLY_BELOW_MS && this.now() - this.lastProbeAt >= this.probeEveryMs;
  }

  /** The median of the last inline fsyncs, in ms (Infinity before the first). */
  get estimateMs(): number {
    if (this.samples.length === 0) return Infinity;
    const sorted = [...this.samples].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  }

  /**
   * fsyncs fd, then calls done: never before this returns, so callers see one order either
   * way. `transactions`: how many this fsync makes durable (a big group goes to the pool).
   */
  sync(fd: number, done: (err: Error | null) => void, transactions = 1): void {
    if (transactions >= this.poolFromTransactions || !this.inline) {
      this.counts.pool++;
      const started = this.now();
      try {
        this.fsync(fd, (err) => {
          this.lastPoolMs = this.now() - started;
          done(err);
        });
      } catch (err) {
        // fs.fsync throws, rather than calling back, for an fd that is not a number.
        process.nextTick(done, err as Error);
      }
      return;
    }
    this.counts.inline++;
    try {
      this.syncNow(fd);
    } catch (err) {
      process.nextTick(done, err as Error);
      return;
    }
    process.nextTick(done, null);
  }

  /** fsyncs fd on this thread and times it (the store's boot fsync too); throws what fsync throws. */
  syncNow(fd: number): void {
    const started = this.now();
    this.fsyncSync(fd);
    this.record(this.now() - started);
  }

  /** Adds one inline fsync's time. */
  record(ms: number): void {
    this.lastProbeAt = this.now();
    // A stall counts as a run of slow fsyncs: leave now, return after three fast probes.
    const times = ms >= LEAVE_INLINE_AT_MS ? SAMPLES : 1;
    for (let i = 0; i < times; i++) this.samples.push(ms);
    while (this.samples.length > SAMPLES) this.samples.shift();
  }
}
