import { type Db, type Value, type WireDatom, datomBytes, dbWith, entityExists, entityWith, valuesOf, withMaxTx } from "../datalog/datascript";
import type { ExistingEntity, PlainEdit } from "../datalog/plain-edits";

/**
 * The writer's head db, with plain edits kept out of datascript until a reader needs them.
 *
 * Applying an edit with datascript costs 30-60 µs of the writer's loop, most of it
 * updating its persistent indexes: at 100 × 16 its `transact` was 31% of the writer's
 * samples. Most transactions an editor sends only set a single-valued scalar attribute of
 * an entity that exists (plain-edits.ts). Their datoms are simple to work out (the old
 * value retracted, the new one asserted, nothing when it is already there), so they are
 * worked out here from the values already known, and added to a lag of transactions on
 * top of the datascript db.
 *
 * The lag is folded into datascript only when something needs a datascript db (any other
 * transaction, a reader of the committed db) or once it reaches one of its bounds (MAX_LAG
 * and the others below). Only the final value of each (entity, attribute) is applied then,
 * stamped with the very t that asserted it, and the db's last t moves to the lag's
 * (foldedDb), so the db is the one applying each transaction in turn would give: the same
 * datoms with the same tx, the same next t and entity id. An editor setting one block's
 * string a hundred times costs datascript one index update, not a hundred.
 *
 * A plain edit never creates or removes an entity, nor changes an identity value, so
 * "does entity e exist" and "which entity does this lookup ref name" are answered by the
 * datascript db below the lag.
 */

/** One transaction of the lag. */
interface LagEntry {
  readonly t: number;
  readonly datoms: readonly WireDatom[];
}

/** A head to come back to or read from: the datascript db and the first n transactions of lag on top of it. */
export interface HeadMark {
  readonly ds: Db;
  readonly dsT: number;
  readonly lag: LagEntry[];
  readonly n: number;
  /** The db once folded (computed on first read). */
  folded?: Db;
}

/** The current value of one (entity, attribute) at the head, and the t that asserted it. */
interface Slot {
  readonly e: number;
  readonly a: string;
  value: { v: Value; t: number } | null;
  /**
   * The db holds more than one value for it (a snapshot from when the attribute was
   * many-valued): datascript then replaces only the first, so such edits go to datascript.
   */
  readonly several: boolean;
}

/**
 * Fold the lag once it holds this many transactions, datoms, bytes of datoms (a replaced
 * value stays alive in the lag until then) or (entity, attribute) slots: bounds the memory
 * it holds and the time one fold takes (20-50 µs per (entity, attribute) it changed, at
 * most half its datoms): a few ms, tens at worst. It is the work datascript would have
 * done for each transaction anyway, never more.
 */
export const MAX_LAG = 1024;
export const MAX_LAG_DATOMS = 2048;
export const MAX_LAG_BYTES = 8 * 1024 * 1024;
export const MAX_SLOTS = 4096;
/** Lookup refs resolved since datascript's db last changed; cleared past this many. */
const MAX_LOOKUPS = 16384;
/**
 * Longer lookup values are resolved each time, never kept: a hostile client's 256K-char
 * lookup values would otherwise pin gigabytes (16,384 of them). Identity values (uids,
 * titles) are short.
 */
const MAX_CACHED_LOOKUP = 256;

function slotKey(e: number, a: string): string {
  return `${e}\u0000${a}`;
}

/**
 * The datascript db at mark: the lag's final value of each (entity, attribute) applied at
 * the t that asserted it. One transaction carries them all, each add with its own tx (as
 * datascript's 5-item `[:db/add e a v tx]` allows), then the db's last tx id moves to the
 * lag's last t (withMaxTx). Where that is not possible, one transaction per t, empty for
 * the t's that assert nothing that stays (~5 µs each).
 */
export function foldedDb(mark: HeadMark): Db {
  if (mark.folded) return mark.folded;
  if (mark.n === 0) return (mark.folded = mark.ds);
  const finals = new Map<string, { e: number; a: string; v: Value; t: number }>();
  for (let i = 0; i < mark.n; i++) {
    for (const [e, a, v, t, added] of mark.lag[i]!.datoms) if (added) finals.set(slotKey(e, a), { e, a, v, t });
  }
  const retractions: unknown[] = [];
  const adds: Array<[string, number, string, Value, number]> = [];
  for (const f of finals.values()) {
    // The lag asserted f after ds's t: the old datom goes even when its value is the same,
    // since the datom that stays carries f's t.
    for (const old of valuesOf(mark.ds, f.e, f.a)) retractions.push([":db/retract", f.e, f.a, old.v]);
    adds.push([":db/add", f.e, f.a, f.v, f.t]);
  }
  const last = mark.lag[mark.n - 1]!.t;
  const moved = withMaxTx(dbWith(mark.ds, [...retractions, ...adds]), last);
  if (moved) return (mark.folded = moved);
  const byT = new Map<number, unknown[]>();
  for (const [op, e, a, v, t] of adds) {
    const ops = byT.get(t) ?? [];
    ops.push([op, e, a, v]);
    byT.set(t, ops);
  }
  let db = mark.ds;
  for (let t = mark.dsT + 1; t <= last; t++) {
    const ops = byT.get(t) ?? [];
    db = dbWith(db, t === mark.dsT + 1 ? [...retractions, ...ops] : ops);
  }
  return (mark.folded = db);
}

export class WriterHead {
  private ds: Db;
  private dsT: number;
  private lag: LagEntry[] = [];
  /** Datoms in the lag, and about their bytes (datomBytes). */
  private lagDatoms = 0;
  private lagBytes = 0;
  /** The head's value of each (entity, attribute) the lag touched, or read for it. */
  private readonly slots = new Map<string, Slot>();
  /** Lookup refs that named an entity in ds. Misses are not kept: a client can send any number of them. */
  private readonly lookups = new Map<string, number>();
  private lastMark?: HeadMark;

  constructor(db: Db, t: number) {
    this.ds = db;
    this.dsT = t;
  }

  /** The head's t: the last transaction applied. */
  get t(): number {
    return this.lag.length > 0 ? this.lag[this.lag.length - 1]!.t : this.dsT;
  }

  /** The head as it is now, to read later or to come back to. */
  mark(): HeadMark {
    const last = this.lastMark;
    if (last && last.ds === this.ds && last.lag === this.lag && last.n === this.lag.length) return last;
    // The same object while nothing changes, so it is folded at most once.
    return (this.lastMark = { ds: this.ds, dsT: this.dsT, lag: this.lag, n: this.lag.length });
  }

  /** Folds the lag into datascript and returns the head's datascript db. */
  db(): Db {
    if (this.lag.length === 0) {
      // Slots read for edits that went to datascript after all: right, but not needed.
      this.slots.clear();
      return this.ds;
    }
    this.ds = foldedDb(this.mark());
    this.dsT = this.t;
    // A new array: marks taken before keep reading the old one.
    this.lag = [];
    this.lagDatoms = this.lagBytes = 0;
    this.slots.clear();
    return this.ds;
  }

  /** The head is now db at t, a transaction datascript applied on top of db(). */
  adopt(db: Db, t: number): void {
    if (this.lag.length > 0) throw new Error("adopt() needs the lag folded first (db())");
    this.ds = db;
    this.dsT = t;
    // Datascript's transaction may have created entities, changed identity values or the
    // values the slots read from ds.
    this.lookups.clear();
    this.slots.clear();
  }

  /** Back to mark: what was applied after it is forgotten (its log write failed). */
  rollback(mark: HeadMark): void {
    this.ds = mark.ds;
    this.dsT = mark.dsT;
    this.lag = mark.lag;
    this.lag.length = mark.n;
    this.lastMark = undefined;
    this.slots.clear();
    this.lookups.clear();
    this.lagDatoms = this.lagBytes = 0;
    for (const entry of this.lag) {
      this.count(entry.datoms);
      for (const d of entry.datoms) this.apply(d);
    }
  }

  /** Whether e names an entity with datoms; plain edits never change that, so ds knows. */
  entityExists(e: number): boolean {
    return entityExists(this.ds, e);
  }

  /**
   * Applies plain edits as the next transaction and returns its t and datoms, as
   * datascript would have; null, with nothing applied, when a lookup ref names no entity
   * (datascript then gives the error) or an attribute holds several values (Slot.several).
   */
  applyPlain(edits: readonly PlainEdit[]): { t: number; datoms: WireDatom[] } | null {
    // Every slot first: nothing is applied unless all of them can be.
    const slots: Slot[] = [];
    for (const edit of edits) {
      const e = this.resolve(edit.e);
      if (e === null) return null;
      const slot = this.slot(e, edit.a);
      if (slot.several) return null;
      slots.push(slot);
    }
    const t = this.t + 1;
    const datoms: WireDatom[] = [];
    edits.forEach((edit, i) => {
      // Two edits of one (entity, attribute) share a slot: the second sees the first's value.
      const slot = slots[i]!;
      // Datascript compares values as equal when === does (0 and -0 too): then nothing changes.
      if (slot.value !== null && slot.value.v === edit.v) return;
      if (slot.value !== null) datoms.push([slot.e, slot.a, slot.value.v, t, false]);
      datoms.push([slot.e, slot.a, edit.v, t, true]);
      slot.value = { v: edit.v, t };
    });
    this.lag.push({ t, datoms });
    this.count(datoms);
    return { t, datoms };
  }

  /** Whether the lag should be folded now (MAX_LAG, MAX_LAG_DATOMS, MAX_LAG_BYTES, MAX_SLOTS). */
  get lagFull(): boolean {
    return this.lag.length >= MAX_LAG || this.lagDatoms >= MAX_LAG_DATOMS || this.lagBytes >= MAX_LAG_BYTES || this.slots.size >= MAX_SLOTS;
  }

  /** Lookup refs kept (for tests). */
  get cachedLookups(): number {
    return this.lookups.size;
  }

  private count(datoms: readonly WireDatom[]): void {
    this.lagDatoms += datoms.length;
    for (const d of datoms) this.lagBytes += datomBytes(d);
  }

  /** Transactions waiting in the lag (for tests and metrics). */
  get lagLength(): number {
    return this.lag.length;
  }

  private resolve(e: ExistingEntity): number | null {
    if (typeof e === "number") return e;
    const [attr, value] = e;
    if (typeof value === "string" && value.length > MAX_CACHED_LOOKUP) return entityWith(this.ds, attr, value);
    const key = `${attr}\u0000${typeof value}\u0000${String(value)}`;
    const cached = this.lookups.get(key);
    if (cached !== undefined) return cached;
    const eid = entityWith(this.ds, attr, value);
    if (eid !== null) {
      if (this.lookups.size >= MAX_LOOKUPS) this.lookups.clear();
      this.lookups.set(key, eid);
    }
    return eid;
  }

  private slot(e: number, a: string): Slot {
    const key = slotKey(e, a);
    let slot = this.slots.get(key);
    if (!slot) {
      // A single-valued attribute: one value at most, but for data from before it was.
      const found = valuesOf(this.ds, e, a);
      slot = { e, a, value: found[0] ? { v: found[0].v, t: found[0].t } : null, several: found.length > 1 };
      this.slots.set(key, slot);
    }
    return slot;
  }

  /** Replays one lag datom onto the slots (after a rollback). */
  private apply([e, a, v, t, added]: WireDatom): void {
    const slot = this.slot(e, a);
    if (added) slot.value = { v, t };
  }
}
