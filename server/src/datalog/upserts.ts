import type { AttributeSpec } from "./schema";

type Schema = Readonly<Record<string, AttributeSpec>>;

/**
 * Upserts, ordered so datascript never starts over, and counted where it still would.
 *
 * When an item gives a tempid an identity value that already names an entity (in the db,
 * or given to another tempid earlier in the same transaction), datascript resolves the
 * tempid to that entity. If the tempid was already used by an earlier item, it has been
 * given a new entity id there, so datascript throws the work away and runs the whole
 * transaction again with the tempid resolved: once per such tempid. A 37 KB frame of 500
 * tempids used first and upserted after held the writer 7.4 s (a hostile review; 2,000 of
 * them, 125 s), under every size limit.
 *
 * The common shape, op vectors that set a value and then the identity
 * (`[:db/add "t" :block/string "x"] [:db/add "t" :block/uid "u"]`), costs nothing once
 * the upserting items go first; datascript's result is the same, since every tempid
 * resolves to the same entity either way. What can still start over (an upserting item
 * that refers to a tempid a later upserting item resolves) is counted, and the engine
 * charges each run against SYNC_MAX_TX_DATOMS.
 */
export interface OrderedUpserts {
  readonly tx: readonly unknown[];
  /** How many times datascript will start over: tempids upserted to an existing entity after their first use. */
  readonly reruns: number;
}

/** Whether an identity value already names an entity in the db. */
export type IdentityExists = (attr: string, value: unknown) => boolean;

const DB_ID = ":db/id";
const ADD = ":db/add";

function isTempid(e: unknown): e is string | number {
  return typeof e === "string" || (typeof e === "number" && e < 0);
}

/** The [tempid, attr, value] identity assertions of an item. */
function upsertsOf(item: unknown, schema: Schema): Array<[string | number, string, unknown]> {
  if (Array.isArray(item)) {
    const [op, e, a, v] = item as unknown[];
    return op === ADD && isTempid(e) && typeof a === "string" && schema[a]?.identity ? [[e, a, v]] : [];
  }
  if (item === null || typeof item !== "object") return [];
  const map = item as Record<string, unknown>;
  const e = Object.hasOwn(map, DB_ID) ? map[DB_ID] : undefined;
  // A map without :db/id has a tempid nobody else can name: it can never be used before.
  if (!isTempid(e)) return [];
  const out: Array<[string | number, string, unknown]> = [];
  for (const [a, v] of Object.entries(map)) if (schema[a]?.identity) out.push([e, a, v]);
  return out;
}

/** Every tempid an item names: its entity's, and those in ref values. */
function tempidsOf(item: unknown, schema: Schema): Array<string | number> {
  const out: Array<string | number> = [];
  const refValues = (a: unknown, v: unknown) => {
    if (typeof a !== "string" || schema[a]?.type !== "ref") return;
    for (const x of Array.isArray(v) && schema[a]?.many ? v : [v]) if (isTempid(x)) out.push(x);
  };
  if (Array.isArray(item)) {
    const [, e, a, v] = item as unknown[];
    if (isTempid(e)) out.push(e);
    refValues(a, v);
  } else if (item !== null && typeof item === "object") {
    for (const [a, v] of Object.entries(item)) {
      if (a === DB_ID) {
        if (isTempid(v)) out.push(v);
      } else refValues(a, v);
    }
  }
  return out;
}

function countReruns(tx: readonly unknown[], upserts: ReadonlyArray<Array<[string | number, string, unknown]>>, schema: Schema, exists: IdentityExists): number {
  const used = new Set<string | number>();
  const given = new Set<string>();
  let reruns = 0;
  tx.forEach((item, i) => {
    for (const [tempid, attr, value] of upserts[i]!) {
      const key = `${attr}\u0000${JSON.stringify(value)}`;
      if (used.has(tempid) && (given.has(key) || exists(attr, value))) reruns++;
      given.add(key);
    }
    for (const tempid of tempidsOf(item, schema)) used.add(tempid);
  });
  return reruns;
}

/** The items that upsert go first (each group in its own order) when that saves datascript a rerun. */
export function orderUpserts(tx: readonly unknown[], schema: Schema, exists: IdentityExists): OrderedUpserts {
  const upserts = tx.map((item) => upsertsOf(item, schema));
  if (upserts.every((u) => u.length === 0)) return { tx, reruns: 0 };
  const reruns = countReruns(tx, upserts, schema, exists);
  // A retraction could free an identity value that a later item gives again: moving that
  // item before it would change what datascript resolves. Such a transaction keeps its order.
  const retracts = tx.some((item) => Array.isArray(item) && item[0] !== ADD);
  if (reruns === 0 || retracts) return { tx, reruns };
  const order = [...tx.keys()].sort((a, b) => Number(upserts[b]!.length > 0) - Number(upserts[a]!.length > 0) || a - b);
  const reordered = order.map((i) => tx[i]);
  return { tx: reordered, reruns: countReruns(reordered, order.map((i) => upserts[i]!), schema, exists) };
}
