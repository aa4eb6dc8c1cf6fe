import { allDatoms } from "../datalog/datascript";
import { type LogEntry, loggedBytes } from "../storage/store";
import { encodeSnapshot } from "./fanout";
import type { SyncEngine } from "./engine";
import type { BuiltSnapshot, SnapshotBuilder } from "./snapshot-builder";

export interface CachedSnapshot {
  readonly t: number;
  /** `snapshot` frames, encoded once and shared by every joining client. */
  readonly frames: readonly Buffer[];
}

/**
 * Past this many datoms, or bytes of datoms, logged after the cached frames, joiners wait
 * for fresh frames rather than replay the log.
 */
const MAX_LAG_DATOMS = 20_000;
const MAX_LAG_BYTES = 2 * 1024 * 1024;
/**
 * A db this small is cheaper to encode (or serialize) on the spot than to wait for the
 * worker (which may still be loading at boot). Both counts: a value may be 256K
 * characters, and a db of a few hundred datoms holding ~100 MB, counted small by datoms
 * alone, was serialized on the writer's loop (another client's ack waited 3.5 s).
 */
const SMALL_DB_DATOMS = 20_000;
const SMALL_DB_BYTES = 2 * 1024 * 1024;

/**
 * The db as `snapshot` frames at some recent t, shared by every client that needs a
 * snapshot: a joining client gets these frames plus the log after their t, never a
 * fresh full dump of its own. Frames come from the snapshot builder's thread (every
 * periodic snapshot refreshes them). When the log after them has grown large, the
 * next joiner waits for fresh frames from the worker; the writer's loop never encodes
 * a large db.
 */
export class SnapshotCache {
  private latest: CachedSnapshot | null = null;
  private pending: Promise<CachedSnapshot> | null = null;
  /** (t, datoms, bytes) of each commit after the cached frames. */
  private lag: Array<{ t: number; datoms: number; bytes: number }> = [];
  private lagDatoms = 0;
  private lagBytes = 0;

  /** Whether the db is big enough that encoding or serializing it belongs on the worker. */
  get large(): boolean {
    // The engine's count, net of retractions: counting every logged datom made a db of a few
    // hundred datoms under steady edits "large" within seconds, which started the builder's
    // worker and its second replay of every commit (half a core at 5,000 edits/s).
    return this.engine.approxDatoms > SMALL_DB_DATOMS || this.engine.approxBytes > SMALL_DB_BYTES;
  }

  constructor(
    private readonly engine: SyncEngine,
    private readonly builder?: SnapshotBuilder,
  ) {}

  /**
   * Call with every commit group. The lag is kept only while there are frames (or a build)
   * it is relative to, and once it passes the limits the frames are dropped with it: a
   * server nobody joins for days kept one record per transaction here, without end.
   */
  committed(entries: readonly LogEntry[]): void {
    if (!this.latest && !this.pending) return;
    for (const e of entries) {
      const bytes = loggedBytes(e);
      this.lag.push({ t: e.t, datoms: e.datoms.length, bytes });
      this.lagDatoms += e.datoms.length;
      this.lagBytes += bytes;
    }
    if (!this.pending && !this.fresh()) this.drop();
  }

  /** Records of commits after the cached frames (for tests and metrics). */
  get lagLength(): number {
    return this.lag.length;
  }

  /** Whether joiners may still get the cached frames plus the log after them (engine.logCatchUpBudget). */
  private fresh(): boolean {
    return this.lagDatoms <= MAX_LAG_DATOMS && this.lagBytes <= Math.min(MAX_LAG_BYTES, this.engine.logCatchUpBudget);
  }

  private drop(): void {
    this.latest = null;
    this.lag = [];
    this.lagDatoms = this.lagBytes = 0;
  }

  /** The newest frames, or a promise of them when the log after the cached ones is too long (or there are none). */
  get(): CachedSnapshot | Promise<CachedSnapshot> {
    const c = this.latest;
    if (c && this.usable(c.t) && this.fresh()) return c;
    if (!this.builder || (!this.large && !this.pending)) {
      const t = this.engine.t;
      this.offer({ t, db: null, chunks: 0, frames: encodeSnapshot(t, allDatoms(this.engine.db)) });
      return this.latest!;
    }
    return this.refresh(this.builder);
  }

  /** Whether a catch-up resumed at t can still read the log after it. */
  usable(t: number): boolean {
    return t >= this.engine.logFloor();
  }

  /** Takes frames built along with a periodic snapshot. */
  offer(built: BuiltSnapshot): void {
    if (this.latest && built.t <= this.latest.t) return;
    this.latest = { t: built.t, frames: built.frames };
    while (this.lag.length > 0 && this.lag[0]!.t <= built.t) {
      const gone = this.lag.shift()!;
      this.lagDatoms -= gone.datoms;
      this.lagBytes -= gone.bytes;
    }
  }

  private refresh(builder: SnapshotBuilder): Promise<CachedSnapshot> {
    if (this.pending) return this.pending;
    this.pending = builder.build(false).then(
      (built) => {
        this.pending = null;
        this.offer(built);
        return this.latest!;
      },
      (err: unknown) => {
        this.pending = null;
        throw err;
      },
    );
    return this.pending;
  }
}
