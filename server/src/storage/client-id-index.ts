/**
 * Which logged transaction, if any, has a given (author, clientId): the idempotency check
 * on every submit (is this a resend?). Held in memory, exactly, for every row of the log,
 * and rebuilt from the log at boot.
 *
 * Not a SQLite index: a unique index on (author, client_id) receives each group's ids at
 * scattered places (clients pick random ids), so every group commit rewrote a page of the
 * index per transaction. At 64 transactions a group with random ids that was 65 WAL pages
 * of 4 KiB instead of 6, and 32 µs of the writer's CPU per transaction instead of 12,
 * before the checkpoints that copy those pages again.
 *
 * Memory follows the log's length: about 100 bytes per logged transaction with a UUID id
 * and a short name (the key string and its Map entry), more for longer ones. The log is
 * pruned from its old end, and so is this. The entries are kept in generations of
 * consecutive t, one Map each: a Map holds at most 2^24 entries, and a log retained past
 * that must not make a commit, or the next boot, throw. Map's string hashing is seeded per
 * process, so ids chosen to collide cost nothing extra.
 */
export class ClientIdIndex {
  private generations: Array<{ maxT: number; readonly byKey: Map<string, number> }> = [];

  constructor(private readonly perGeneration = 1 << 20) {}

  /** Call with every logged transaction, in increasing t, once it is committed. */
  add(t: number, author: string, clientId: string): void {
    let gen = this.generations.at(-1);
    if (!gen || gen.byKey.size >= this.perGeneration) {
      gen = { maxT: t, byKey: new Map() };
      this.generations.push(gen);
    }
    gen.byKey.set(clientIdKey(author, clientId), t);
    gen.maxT = t;
  }

  /** The t of the logged transaction with this (author, clientId), if the log holds one. */
  get(author: string, clientId: string): number | undefined {
    const key = clientIdKey(author, clientId);
    // Newest first: a resend is nearly always of something recent.
    for (let i = this.generations.length - 1; i >= 0; i--) {
      const t = this.generations[i]!.byKey.get(key);
      if (t !== undefined) return t;
    }
    return undefined;
  }

  /** The log lost every entry at or below `through`. */
  prune(through: number): void {
    while (this.generations.length > 0 && this.generations[0]!.maxT <= through) this.generations.shift();
    const first = this.generations[0];
    if (!first) return;
    // Map keeps insertion order, which is t order.
    for (const [key, t] of first.byKey) {
      if (t > through) break;
      first.byKey.delete(key);
    }
  }

  get size(): number {
    return this.generations.reduce((n, g) => n + g.byKey.size, 0);
  }
}

/** Length-prefixed, so ("ab", "c") and ("a", "bc") differ whatever characters either holds. */
export function clientIdKey(author: string, clientId: string): string {
  return `${author.length}:${author}${clientId}`;
}
