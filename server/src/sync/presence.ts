import type { PresenceEntry, PresenceLeft, ServerMessage } from "../../../protocol/src";

/** What one presence tick sends: a delta for clients already holding the roster, the roster for newcomers. */
export interface PresenceTick {
  readonly delta: Extract<ServerMessage, { type: "presence" }> | null;
  readonly roster: Extract<ServerMessage, { type: "presence" }> | null;
}

/**
 * Who is online and where they are looking, keyed by server-assigned session id.
 *
 * Changes are coalesced: join, focus and leave only mark a session dirty, and tick()
 * (every SYNC_PRESENCE_INTERVAL) turns everything since the last tick into one delta
 * frame for everyone and one roster frame for the clients that went live since. Each is
 * serialized once per tick. A session that joined and left within one tick is never
 * announced. Connecting N clients then costs each client one frame per tick, not N.
 */
export class Presence {
  private readonly entries = new Map<string, PresenceEntry>();
  /** Sessions that joined or changed focus since the last tick. */
  private readonly changed = new Set<string>();
  /** Sessions that left since the last tick, and were announced before. */
  private readonly left = new Map<string, PresenceLeft>();
  /** Sessions announced to others (joined before the last tick). */
  private readonly announced = new Set<string>();

  get size(): number {
    return this.entries.size;
  }

  get dirty(): boolean {
    return this.changed.size > 0 || this.left.size > 0;
  }

  join(session: string, name: string): PresenceEntry {
    const entry = { session, name, page: null, block: null };
    this.entries.set(session, entry);
    this.changed.add(session);
    return entry;
  }

  /** Updates only the caller's own session: the session id comes from the connection, never the frame. */
  update(session: string, page: string | null | undefined, block: string | null | undefined): boolean {
    const entry = this.entries.get(session);
    if (!entry) return false;
    if (page !== undefined) entry.page = page;
    if (block !== undefined) entry.block = block;
    this.changed.add(session);
    return true;
  }

  leave(session: string): PresenceEntry | undefined {
    const entry = this.entries.get(session);
    if (!entry) return undefined;
    this.entries.delete(session);
    this.changed.delete(session);
    if (this.announced.delete(session)) this.left.set(session, { session, name: entry.name });
    return entry;
  }

  list(): PresenceEntry[] {
    return [...this.entries.values()].map((e) => ({ ...e }));
  }

  /** Drains the changes since the last tick; builds the roster only when someone needs it. */
  tick(wantRoster: boolean): PresenceTick {
    const peers: PresenceEntry[] = [];
    for (const session of this.changed) {
      const entry = this.entries.get(session);
      if (entry) {
        peers.push({ ...entry });
        this.announced.add(session);
      }
    }
    const left = [...this.left.values()];
    const delta: PresenceTick["delta"] = peers.length > 0 || left.length > 0 ? { type: "presence", peers, left } : null;
    const roster: PresenceTick["roster"] = wantRoster ? { type: "presence", roster: true, peers: this.list(), left: [] } : null;
    this.changed.clear();
    this.left.clear();
    return { delta, roster };
  }
}
