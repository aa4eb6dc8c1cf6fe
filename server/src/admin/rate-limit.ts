/**
 * Admin requests per client address: a token bucket of `burst` requests refilled at
 * `perSecond`. Wrong tokens cost the same as right ones, so guessing the admin token runs
 * at `perSecond` per address. The table is bounded: past `maxAddresses` the least recently
 * seen address is forgotten (it starts again with a full bucket, never more).
 */
export class PerIpBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly maxAddresses = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one request from ip's bucket; false when it is empty. */
  take(ip: string): boolean {
    const now = this.now();
    const seen = this.buckets.get(ip);
    const tokens = seen ? Math.min(this.burst, seen.tokens + ((now - seen.at) / 1000) * this.perSecond) : this.burst;
    // Re-insert so Map order is least recently seen first.
    this.buckets.delete(ip);
    if (this.buckets.size >= this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
    const allowed = tokens >= 1;
    this.buckets.set(ip, { tokens: allowed ? tokens - 1 : tokens, at: now });
    return allowed;
  }

  /** Seconds until ip has a request again (for Retry-After). */
  retryAfter(ip: string): number {
    const seen = this.buckets.get(ip);
    return seen ? Math.max(1, Math.ceil((1 - seen.tokens) / this.perSecond)) : 1;
  }

  get size(): number {
    return this.buckets.size;
  }
}
