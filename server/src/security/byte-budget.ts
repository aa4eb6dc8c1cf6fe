/**
 * Incoming bytes per connection (SYNC_BYTES_PER_MINUTE), a token bucket that refills
 * continuously: a client may burst up to a minute's budget, then gets the budget's rate.
 * The message rate limit alone lets 200 frames/s of 1 MiB through: 12 GiB a minute.
 */
export class ByteBudget {
  private available: number;
  private last: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.available = perMinute;
    this.last = now();
  }

  /** Spends n bytes; false (and nothing spent) when the budget does not cover them. */
  take(n: number): boolean {
    const now = this.now();
    this.available = Math.min(this.perMinute, this.available + ((now - this.last) * this.perMinute) / 60_000);
    this.last = now;
    if (n > this.available) return false;
    this.available -= n;
    return true;
  }
}
