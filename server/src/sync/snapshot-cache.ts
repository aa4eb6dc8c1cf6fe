import { allDatoms } from "../datalog/datascript";
import { encodeSnapshot } from "./fanout";
import type { SyncEngine } from "./engine";

export interface CachedSnapshot {
  readonly t: number;
  /** `snapshot` frames, encoded once and shared by every joining client. */
  readonly frames: readonly Buffer[];
  readonly bytes: number;
}

/**
 * The db as `snapshot` frames at some recent t, shared by every client that needs a
 * snapshot: a joining client gets these frames plus the log after their t, never a
 * fresh full dump of its own. The cache is rebuilt when the log no longer holds
 * everything after it, or when the log after it has grown past maxLag transactions
 * (then replaying the log would cost a client more than a new snapshot).
 */
export class SnapshotCache {
  private cached: CachedSnapshot | null = null;

  constructor(
    private readonly engine: SyncEngine,
    private readonly maxLag: number,
  ) {}

  get(): CachedSnapshot {
    const c = this.cached;
    if (c && c.t >= this.engine.logFloor() && this.engine.t - c.t <= this.maxLag) return c;
    return this.rebuild();
  }

  /** Whether a catch-up resumed at t can still read the log after it. */
  usable(t: number): boolean {
    return t >= this.engine.logFloor();
  }

  private rebuild(): CachedSnapshot {
    const t = this.engine.t;
    const frames = encodeSnapshot(t, allDatoms(this.engine.db));
    this.cached = { t, frames, bytes: frames.reduce((n, f) => n + f.length, 0) };
    return this.cached;
  }
}
