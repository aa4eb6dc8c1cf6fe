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
 * Memory follows the log's length: about 100 bytes per logged transaction (the key string
 * and its Map entry), beside the several hundred each one takes on disk. The log is pruned
 * from its old end, and so is this (Map keeps insertion order, which is t order).
 * Map's string hashing is seeded per process, so ids chosen to collide cost nothing extra.
 */
export class ClientIdIndex {
  private readonly byKey = new Map<string, number>();

  /** Call with every logged transaction, in increasing t, once it is committed. */
  add(t: number, author: string, clientId: string): void {
    this.byKey.set(clientIdKey(author, clientId), t);
  }

  /** The t of the logged transaction with this (author, clientId), if the log holds one. */
  get(author: string, clientId: string): number | undefined {
    return this.byKey.get(clientIdKey(author, clientId));
  }

  /** The log lost every entry at or below `through`. */
  prune(through: number): void {
    for (const [k, t] of this.byKey) {
      if (t > through) break;
      this.byKey.delete(k);
    }
  }

  get size(): number {
    return this.byKey.size;
  }
}

/** Length-prefixed, so ("ab", "c") and ("a", "bc") differ whatever characters either holds. */
export function clientIdKey(author: string, clientId: string): string {
  return `${author.length}:${author}${clientId}`;
}
