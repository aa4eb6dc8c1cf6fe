import type { LogEntry } from "../storage/store";

/**
 * Paces the fan-out of durable groups. Each flush costs one socket write per live client
 * (~20 µs each), whatever it carries; with the WAL fsync taking well under a millisecond,
 * groups became durable hundreds of times a second, each fanned out on its own, and
 * `writev` was the top of the profile (a fifth of the server's CPU at 100 × 16). Flushes
 * are now spaced at least `windowMs()` apart: the first group after a quiet spell goes
 * out at once (no added latency at low load); under load, everything that became durable
 * within one window goes to each client as one write.
 *
 * Acks are not paced: a writer hears that its transaction is durable as soon as it is.
 * The `txs` frame carrying it may follow its ack by up to one window (protocol/PROTOCOL.md).
 */
export class FanoutPacer {
  private pending: LogEntry[] = [];
  private timer?: NodeJS.Timeout;
  private lastFlushAt = -Infinity;

  constructor(
    private readonly send: (entries: readonly LogEntry[]) => void,
    private readonly windowMs: () => number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Groups that just became durable, oldest first. */
  push(entries: readonly LogEntry[]): void {
    for (const e of entries) this.pending.push(e);
    if (this.timer) return;
    const wait = this.lastFlushAt + this.windowMs() - this.now();
    if (wait <= 0) return this.flush();
    this.timer = setTimeout(() => this.flush(), wait);
  }

  /**
   * Sends everything pending now. Called before a connection turns live (its catch-up
   * already holds these entries, so they must reach only the clients live before it) and
   * before a drain closes the sockets.
   */
  flush(): void {
    this.stop();
    if (this.pending.length === 0) return;
    const entries = this.pending;
    this.pending = [];
    this.lastFlushAt = this.now();
    this.send(entries);
  }

  /** Entries waiting for the next flush (for tests and metrics). */
  get waiting(): number {
    return this.pending.length;
  }

  /** Cancels the scheduled flush; what is pending stays for an explicit flush(). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
