/**
 * How many bytes of datoms the log holds after a t, for the last WINDOW transactions, so a
 * joining client's catch-up can be priced before it starts: the log after `since` is read,
 * parsed and encoded for that one client, while snapshot frames are encoded once and
 * shared. Without the price, 50 clients saying hello at the log's floor (10 MB of log
 * after it, a small db) cost the server 18.7 s of CPU and 516 MB sent; from a snapshot,
 * 40 ms and 3 MB (a hostile review).
 *
 * A ring of cumulative totals: the bytes after `since` are the total at the newest t minus
 * the total at `since`. 8 bytes per transaction.
 */
export const LOG_BYTES_WINDOW = 65_536;
/**
 * A joiner reads at most this much log whatever the db's size (beyond it, at most the db's
 * own size): less than this costs less than any snapshot's round.
 */
export const LOG_CATCH_UP_ALWAYS_BYTES = 256 * 1024;

export class LogBytes {
  /** cumulative[t % WINDOW]: bytes logged from the first recorded t through t. */
  private readonly cumulative: Float64Array;
  /** The oldest t recorded, and the newest; the totals known are those of first - 1 through last. */
  private first = 1;
  private last = 0;

  constructor(private readonly window = LOG_BYTES_WINDOW) {
    this.cumulative = new Float64Array(window);
  }

  /** Starts over at t: nothing is known before it, and nothing is logged after it yet. */
  reset(t: number): void {
    this.first = t + 1;
    this.last = t;
    this.cumulative[this.slot(t)] = 0;
  }

  /** Records the next transaction's logged bytes; a t that does not follow the last starts over. */
  record(t: number, bytes: number): void {
    if (t !== this.last + 1) this.reset(t - 1);
    this.cumulative[this.slot(t)] = this.cumulative[this.slot(t - 1)]! + bytes;
    this.last = t;
    // t - 1's total is what bytesAfter(t - 1) subtracts: keep window - 1 of them behind t.
    if (this.last - this.first + 1 > this.window - 1) this.first = this.last - this.window + 2;
  }

  /** Bytes logged after since through the newest t recorded; null when since is older than the window knows. */
  bytesAfter(since: number): number | null {
    if (since < this.first - 1 || since > this.last) return null;
    return this.cumulative[this.slot(this.last)]! - this.cumulative[this.slot(since)]!;
  }

  private slot(t: number): number {
    return ((t % this.window) + this.window) % this.window;
  }
}
