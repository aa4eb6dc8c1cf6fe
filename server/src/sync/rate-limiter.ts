/**
 * A token bucket per connection: `rate` messages per second, with bursts up to `rate`.
 * `strikes` counts messages refused in a row, so the caller can close a client that
 * keeps pushing past the limit instead of only dropping its frames.
 */
export class RateLimiter {
  private tokens: number;
  private last: number;
  strikes = 0;

  constructor(
    private readonly rate: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = rate;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.strikes = 0;
      return true;
    }
    this.strikes++;
    return false;
  }
}
