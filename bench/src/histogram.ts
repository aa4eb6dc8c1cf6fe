/**
 * A latency histogram with logarithmic buckets 1% wide, from 1 µs up. It is mergeable
 * (client processes send their buckets to the orchestrator), and its size does not
 * grow with the number of samples: fan-out at 1000 clients records millions of them.
 */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);

export interface HistogramData {
  /** [bucket, count] pairs. */
  readonly buckets: Array<[number, number]>;
  readonly count: number;
  readonly max: number;
}

export class Histogram {
  private readonly counts = new Map<number, number>();
  count = 0;
  max = 0;

  record(ms: number): void {
    const us = ms * 1000;
    const bucket = us <= 1 ? 0 : Math.ceil(Math.log(us) / LOG_GROWTH);
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  merge(data: HistogramData): this {
    for (const [bucket, n] of data.buckets) this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + n);
    this.count += data.count;
    if (data.max > this.max) this.max = data.max;
    return this;
  }

  /** The value (ms) at percentile p (0-100): the upper edge of its bucket, at most the max seen. NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    const sorted = [...this.counts.entries()].sort((a, b) => a[0] - b[0]);
    let seen = 0;
    for (const [bucket, n] of sorted) {
      seen += n;
      if (seen >= rank) return Math.min(this.max, GROWTH ** bucket / 1000);
    }
    return this.max;
  }

  toJSON(): HistogramData {
    return { buckets: [...this.counts.entries()], count: this.count, max: this.max };
  }

  static from(data: HistogramData): Histogram {
    return new Histogram().merge(data);
  }
}
