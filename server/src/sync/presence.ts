import type { PresenceEntry, PresenceLeft, ServerMessage } from "../../../protocol/src";

type PresenceFrame = Extract<ServerMessage, { type: "presence" }>;

/** What one presence tick sends: a delta for clients already holding the roster, the roster for newcomers. */
export interface PresenceTick {
  readonly delta: PresenceFrame | null;
  readonly roster: PresenceFrame | null;
}

/** A change of the online count alone is sent at most this often: it is not worth a frame per tick. */
const ONLINE_COUNT_INTERVAL_MS = 1000;

/**
 * Who is online, and where those who share their presence are looking, keyed by
 * server-assigned session id.
 *
 * Every session counts in `online`. A session appears in the list only once it has sent
 * a `presence` frame (as a Yjs awareness client appears once it sets a local state): a
 * connection that never does (a background tab, a script, an idle reader) costs the
 * others one number, not an entry each. Connecting N idle clients is then O(N) bytes
 * in total, not O(N²).
 *
 * Changes are coalesced: focus and leave only mark a session dirty, and tick() (every
 * SYNC_PRESENCE_INTERVAL) turns everything since the last tick into one delta frame for
 * everyone and one roster frame for the clients that went live since; each is
 * serialized once per tick. A count-only change waits for ONLINE_COUNT_INTERVAL_MS.
 * A session that shared and left within one tick is never announced.
 */
export class Presence {
  /** Everyone online: their name, and their focus once shared. */
  private readonly entries = new Map<string, PresenceEntry>();
  /** Sessions that have shared their presence (sent a `presence` frame). */
  private readonly shared = new Set<string>();
  /** Shared sessions that changed focus since the last tick. */
  private readonly changed = new Set<string>();
  /** Sessions that left since the last tick, and were announced before. */
  private readonly left = new Map<string, PresenceLeft>();
  /** Sessions announced to others (shared before the last tick). */
  private readonly announced = new Set<string>();
  /** The online count last sent, and when. */
  private sentOnline = 0;
  private sentOnlineAt = -Infinity;

  /** Everyone online (the `online` count), shared or not. */
  get size(): number {
    return this.entries.size;
  }

  /** Something to announce now. */
  get dirty(): boolean {
    return this.changed.size > 0 || this.left.size > 0;
  }

  /** Only the online count changed since it was last sent. */
  get countChanged(): boolean {
    return this.entries.size !== this.sentOnline;
  }

  /** When a count-only change may go out (ms on the clock tick() is given). */
  countDueAt(): number {
    return this.sentOnlineAt + ONLINE_COUNT_INTERVAL_MS;
  }

  join(session: string, name: string): void {
    this.entries.set(session, { session, name, page: null, block: null });
  }

  /**
   * Shares and updates only the caller's own session: the session id comes from the
   * connection, never the frame. False when nothing changed (nothing to announce).
   */
  update(session: string, page: string | null | undefined, block: string | null | undefined): boolean {
    const entry = this.entries.get(session);
    if (!entry) return false;
    // The same place again is not news: a client repeating its frame (a buggy loop, or a
    // hostile one) would otherwise cost every other client an entry per tick.
    const same = (page === undefined || page === entry.page) && (block === undefined || block === entry.block);
    if (same && this.shared.has(session)) return false;
    if (page !== undefined) entry.page = page;
    if (block !== undefined) entry.block = block;
    this.shared.add(session);
    this.changed.add(session);
    return true;
  }

  leave(session: string): boolean {
    const entry = this.entries.get(session);
    if (!entry) return false;
    this.entries.delete(session);
    this.shared.delete(session);
    this.changed.delete(session);
    if (this.announced.delete(session)) this.left.set(session, { session, name: entry.name });
    return true;
  }

  /** Everyone who shares their presence. */
  list(): PresenceEntry[] {
    const out: PresenceEntry[] = [];
    for (const session of this.shared) out.push({ ...this.entries.get(session)! });
    return out;
  }

  /**
   * Drains the changes since the last tick; builds the roster only when someone needs it.
   * The delta carries announcements, or, when due, a changed count alone.
   */
  tick(wantRoster: boolean, now: number): PresenceTick {
    const peers: PresenceEntry[] = [];
    for (const session of this.changed) {
      peers.push({ ...this.entries.get(session)! });
      this.announced.add(session);
    }
    const left = [...this.left.values()];
    const online = this.entries.size;
    const countDue = online !== this.sentOnline && now >= this.countDueAt();
    const delta: PresenceFrame | null = peers.length > 0 || left.length > 0 || countDue ? { type: "presence", peers, left, online } : null;
    if (delta) {
      this.sentOnline = online;
      this.sentOnlineAt = now;
    }
    const roster: PresenceFrame | null = wantRoster ? { type: "presence", roster: true, peers: this.list(), left: [], online } : null;
    this.changed.clear();
    this.left.clear();
    return { delta, roster };
  }
}
