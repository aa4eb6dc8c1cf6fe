/**
 * A small typed wrapper over the `datascript` npm package, which ships no types.
 * In JS, attribute names stay plain strings ("block/uid"); op names, schema values
 * and ":db/id" are keyword strings. A retraction datom carries a negative tx.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ds = require("datascript") as DatascriptModule;

/** Opaque immutable database value. */
export type Db = { readonly __brand: "datascript.Db" };
type Conn = { readonly __brand: "datascript.Conn" };

import type { Value, WireDatom } from "../../../protocol/src/frames";

export type { Value, WireDatom };

export type DatascriptSchema = Record<string, Record<string, string>>;

interface RawDatom {
  e: number;
  a: string;
  v: Value;
  tx: number;
}

interface RawReport {
  db_after: Db;
  tx_data: RawDatom[];
  tempids: Record<string, number>;
}

interface DatascriptModule {
  empty_db(schema: DatascriptSchema): Db;
  db_with(db: Db, tx: unknown[]): Db;
  conn_from_db(db: Db): Conn;
  transact(conn: Conn, tx: unknown[]): RawReport;
  datoms(db: Db, index: string, ...components: unknown[]): RawDatom[];
  q(query: string, ...inputs: unknown[]): unknown;
  serializable(db: Db): unknown;
  init_db(datoms: unknown[], schema: DatascriptSchema): Db;
  from_serializable(data: unknown): Db;
}

/** The first tx id datascript hands out is TX0 + 1. */
export const TX0 = 536870912;

export interface TxReport {
  readonly db: Db;
  /** The tx id of this transaction. */
  readonly t: number;
  readonly datoms: WireDatom[];
  /** Client tempids (as strings) to resolved entity ids. */
  readonly tempids: Record<string, number>;
}

function toWire(d: RawDatom): WireDatom {
  return [d.e, d.a, d.v, Math.abs(d.tx), d.tx > 0];
}

export function emptyDb(schema: DatascriptSchema): Db {
  return ds.empty_db(schema);
}

/** Applies tx-data to db; throws datascript's error when the transaction is invalid. */
export function transact(db: Db, tx: readonly unknown[]): TxReport {
  const report = ds.transact(ds.conn_from_db(db), tx as unknown[]);
  const { [":db/current-tx"]: t, ...tempids } = report.tempids;
  return { db: report.db_after, t: t ?? 0, datoms: report.tx_data.map(toWire), tempids };
}

/** The values entity e holds for attr, each with the t that asserted it. */
export function valuesOf(db: Db, e: number, attr: string): Array<{ v: Value; t: number }> {
  return ds.datoms(db, ":eavt", e, attr).map((d) => ({ v: d.v, t: d.tx }));
}

/**
 * Applies op vectors as the next transaction, without a report. With none, the db only
 * moves on to the next t: its datoms stay as they were.
 */
export function dbWith(db: Db, ops: readonly unknown[]): Db {
  return ds.db_with(db, ops as unknown[]);
}

/**
 * Where datascript's compiled DB record keeps its max tx, found by probing: the one field
 * that is TX0 in an empty db and TX0 + 1 after an empty transaction. Its JS API has no
 * way to move a db's t on without a transaction per t; null when a datascript build no
 * longer shows the field that way (withMaxTx then answers null and callers take that way).
 */
const MAX_TX_FIELD: string | null = (() => {
  const empty = ds.empty_db({}) as unknown as Record<string, unknown>;
  const next = ds.db_with(ds.empty_db({}), []) as unknown as Record<string, unknown>;
  const fields = Object.keys(empty).filter((k) => empty[k] === TX0 && next[k] === TX0 + 1);
  return fields.length === 1 ? fields[0]! : null;
})();

/**
 * db with its last tx id moved on to t (not below its own) and its datoms unchanged: the
 * db a run of transactions that changed nothing would leave. A shallow copy of the record
 * with that one field changed; null when the field is unknown (MAX_TX_FIELD).
 */
export function withMaxTx(db: Db, t: number): Db | null {
  if (MAX_TX_FIELD === null) return null;
  const fields = db as unknown as Record<string, unknown>;
  if (typeof fields[MAX_TX_FIELD] !== "number" || (fields[MAX_TX_FIELD] as number) > t) return null;
  const copy = Object.assign(Object.create(Object.getPrototypeOf(db) as object) as object, db) as Record<string, unknown>;
  copy[MAX_TX_FIELD] = t;
  return copy as unknown as Db;
}

/** Re-applies logged datoms as one transaction, so replay never re-resolves tempids. */
export function replay(db: Db, datoms: readonly WireDatom[]): TxReport {
  return transact(
    db,
    datoms.map(([e, a, v, , added]) => [added ? ":db/add" : ":db/retract", e, a, v]),
  );
}

/** Datascript's highest entity id; it throws on anything above. */
const MAX_EID = 0x7fffffff;

function isEid(e: unknown): e is number {
  return Number.isInteger(e) && (e as number) > 0 && (e as number) <= MAX_EID;
}

/** True when db holds at least one datom about entity e. */
export function entityExists(db: Db, e: number): boolean {
  return isEid(e) && ds.datoms(db, ":eavt", e).length > 0;
}

/** The entity an identity value names in db, or null. */
export function entityWith(db: Db, attr: string, value: unknown): number | null {
  const found = ds.datoms(db, ":avet", attr, value);
  return found.length > 0 ? found[0]!.e : null;
}

/** True when an identity value already names an entity in db. */
export function identityExists(db: Db, attr: string, value: unknown): boolean {
  return entityWith(db, attr, value) !== null;
}

/** The entity e names in db: an id, or a lookup ref's match; null for a tempid or no match. */
function resolveEntity(db: Db, e: unknown): number | null {
  if (typeof e === "number") return isEid(e) ? e : null;
  if (Array.isArray(e) && e.length === 2 && typeof e[0] === "string") return entityWith(db, e[0], e[1]);
  return null;
}

/**
 * How many datoms a retraction would remove, read from the indexes before datascript does
 * the work: e's values of attr (`[:db/retract e a]`), or with no attr, all of e's datoms
 * and every ref to e (`:db/retractEntity`; datascript indexes ref attributes in AVET).
 * 0 for a tempid or a lookup ref that matches nothing.
 */
export function retractionSize(db: Db, e: unknown, attr: string | undefined, refAttrs: readonly string[]): number {
  const eid = resolveEntity(db, e);
  if (eid === null) return 0;
  if (attr !== undefined) return ds.datoms(db, ":eavt", eid, attr).length;
  let n = ds.datoms(db, ":eavt", eid).length;
  for (const a of refAttrs) n += ds.datoms(db, ":avet", a, eid).length;
  return n;
}

/**
 * About how many bytes a datom takes in a snapshot or a frame: its attribute, its value
 * (a string's length; 8 for a number or boolean) and 24 for the rest. A string's length
 * counts UTF-16 units, which is its size in bytes for ASCII text.
 */
export function datomBytes(d: WireDatom): number {
  const v = d[2];
  return 24 + d[1].length + (typeof v === "string" ? v.length : 8);
}

export interface Growth {
  /** Additions minus retractions (datascript never emits a datom that changes nothing). */
  readonly datoms: number;
  /** The same in (about) bytes: a value can be 256K characters, so a db of few datoms may be large. */
  readonly bytes: number;
}

/** How much a transaction's datoms add to the db, net. Replacing a value by one of the same size adds 0 and 0. */
export function dbGrowth(datoms: readonly WireDatom[]): Growth {
  let n = 0;
  let bytes = 0;
  for (const d of datoms) {
    const sign = d[4] ? 1 : -1;
    n += sign;
    bytes += sign * datomBytes(d);
  }
  return { datoms: n, bytes };
}

export function allDatoms(db: Db): WireDatom[] {
  return ds.datoms(db, ":eavt").map(toWire);
}

interface Serialized {
  "max-tx": number;
  "max-eid": number;
  [key: string]: unknown;
}

/** The whole db with the schema it was built under (datascript always writes it all). */
export function serialize(db: Db, schema: DatascriptSchema): string {
  return JSON.stringify({ schema, db: ds.serializable(db) });
}

/**
 * Restores a serialized db under the current schema, with the highest tx id it holds.
 * When the schema changed since the snapshot, the indexes are rebuilt from the datoms;
 * max tx and max eid are carried over so tx ids and entity ids never go backwards.
 */
export function deserialize(text: string, schema: DatascriptSchema): { db: Db; t: number } {
  const stored = JSON.parse(text) as { schema: DatascriptSchema; db: Serialized };
  const t = stored.db["max-tx"];
  if (JSON.stringify(stored.schema) === JSON.stringify(schema)) return { db: ds.from_serializable(stored.db), t };
  const datoms = ds.datoms(ds.from_serializable(stored.db), ":eavt").map((d) => [d.e, d.a, d.v, d.tx]);
  const rebuilt = ds.serializable(ds.init_db(datoms, schema)) as Serialized;
  rebuilt["max-tx"] = t;
  rebuilt["max-eid"] = stored.db["max-eid"];
  return { db: ds.from_serializable(rebuilt), t };
}

/** Raw datascript q: only ../datalog/query.ts calls it, and only with a validated query. */
export const rawQuery = ds.q;
