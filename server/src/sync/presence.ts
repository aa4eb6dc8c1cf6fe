import type { PresenceEntry } from "../../../protocol/src";

/** Who is online and where they are looking. Keyed by server-assigned session id. */
export class Presence {
  private readonly entries = new Map<string, PresenceEntry>();

  join(session: string, name: string): PresenceEntry {
    const entry = { session, name, page: null, block: null };
    this.entries.set(session, entry);
    return entry;
  }

  /** Updates only the caller's own session: the session id comes from the connection, never the frame. */
  update(session: string, page: string | null | undefined, block: string | null | undefined): PresenceEntry | undefined {
    const entry = this.entries.get(session);
    if (!entry) return undefined;
    if (page !== undefined) entry.page = page;
    if (block !== undefined) entry.block = block;
    return { ...entry };
  }

  leave(session: string): PresenceEntry | undefined {
    const entry = this.entries.get(session);
    this.entries.delete(session);
    return entry;
  }

  list(): PresenceEntry[] {
    return [...this.entries.values()].map((e) => ({ ...e }));
  }
}
