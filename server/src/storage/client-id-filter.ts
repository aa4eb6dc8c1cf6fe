/**
 * A Bloom filter over the (author, clientId) of every transaction in the log, so that the
 * idempotency check on each submit (has this id been logged before?) skips SQLite for a
 * fresh id, which is nearly every id. An indexed SELECT outside a transaction costs about
 * 15 µs in WAL mode (locking the shared-memory index each time); the filter answers in
 * well under one. A "maybe" still goes to SQLite, so the filter never decides a resend
 * wrongly: it may only say "certainly not logged" when that is true.
 *
 * The log is pruned from its old end, so the filter is kept in generations of
 * consecutive t: pruning through t drops every generation whose newest t is at or below
 * it, and memory follows the log's length (about 1.3 bytes per entry). Past MAX_ENTRIES
 * (a log retained far beyond the default) the filter gives up and answers "maybe" for
 * everything: the check is then the plain SQL lookup again, never wrong.
 */

/** Entries per generation; each generation holds BITS_PER_ENTRY bits per entry. */
const PER_GENERATION = 8192;
const BITS_PER_ENTRY = 10;
/** k = 7 probes: about a 1% false-positive rate at 10 bits per entry. */
const PROBES = 7;
const MAX_ENTRIES = 4_000_000;

interface Generation {
  /** The newest t added to this generation. */
  maxT: number;
  count: number;
  readonly bits: Uint32Array;
}

const WORDS = (PER_GENERATION * BITS_PER_ENTRY) / 32;
const BITS = WORDS * 32;

/** Two independent 32-bit hashes (FNV-1a and a multiplicative variant) of the key's UTF-16 units. */
function hashes(author: string, clientId: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x9747b28c;
  const mix = (code: number) => {
    h1 = Math.imul(h1 ^ code, 0x01000193);
    h2 = Math.imul(h2 ^ code, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  };
  for (let i = 0; i < author.length; i++) mix(author.charCodeAt(i));
  mix(0x10000); // separator outside the UTF-16 range: ("ab","c") and ("a","bc") differ
  for (let i = 0; i < clientId.length; i++) mix(clientId.charCodeAt(i));
  return [h1 >>> 0, (h2 | 1) >>> 0];
}

export class ClientIdFilter {
  private generations: Generation[] = [];
  private entries = 0;
  /** Set once the log outgrew MAX_ENTRIES: every answer is "maybe" from then on. */
  private saturated = false;

  constructor(private readonly maxEntries = MAX_ENTRIES) {}

  /** Call with every logged transaction, in increasing t, once it is durable. */
  add(t: number, author: string, clientId: string): void {
    if (this.saturated) return;
    if (this.entries >= this.maxEntries) {
      this.saturated = true;
      this.generations = [];
      return;
    }
    let gen = this.generations.at(-1);
    if (!gen || gen.count >= PER_GENERATION) {
      gen = { maxT: t, count: 0, bits: new Uint32Array(WORDS) };
      this.generations.push(gen);
    }
    const [h1, h2] = hashes(author, clientId);
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) >>> 0;
      const at = bit % BITS;
      gen.bits[at >>> 5]! |= 1 << (at & 31);
    }
    gen.maxT = t;
    gen.count++;
    this.entries++;
  }

  /** False only when no logged transaction has this (author, clientId). */
  mightContain(author: string, clientId: string): boolean {
    if (this.saturated) return true;
    const [h1, h2] = hashes(author, clientId);
    outer: for (const gen of this.generations) {
      for (let i = 0; i < PROBES; i++) {
        const at = ((h1 + Math.imul(i, h2)) >>> 0) % BITS;
        if ((gen.bits[at >>> 5]! & (1 << (at & 31))) === 0) continue outer;
      }
      return true;
    }
    return false;
  }

  /** The log lost every entry at or below `through`: forget generations that held only those. */
  prune(through: number): void {
    while (this.generations.length > 0 && this.generations[0]!.maxT <= through) {
      this.entries -= this.generations.shift()!.count;
    }
  }
}
