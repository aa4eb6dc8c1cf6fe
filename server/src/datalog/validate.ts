import { ErrorCode, SyncError } from "../errors";
import type { AttributeSpec } from "./schema";

type Schema = Readonly<Record<string, AttributeSpec>>;

const ADD = ":db/add";
const RETRACT = ":db/retract";
const RETRACT_ENTITY = [":db/retractEntity", ":db.fn/retractEntity"];
const DB_ID = ":db/id";

const MAX_STRING = 256 * 1024;
/**
 * tx-data is at most: the tx list, an item, a lookup ref or ref list, a lookup ref in it.
 * Anything deeper is malformed; refusing it up front keeps deep nesting from ever reaching
 * a recursive walk (JSON.stringify, datascript) and overflowing the stack.
 */
const MAX_DEPTH = 5;
/** Strings datascript resolves to the current transaction's entity: tx entities hold no user data. */
const RESERVED_TEMPIDS = new Set([":db/current-tx", "datomic.tx", "datascript.tx"]);

/** Answers whether an entity id names an entity that has datoms in the db. */
export type EntityExists = (eid: number) => boolean;
/**
 * How many datoms a retraction without a value removes from the db: e's values of attr,
 * or with no attr (`:db/retractEntity`) all of e's datoms and every ref to it.
 */
export type RetractionSize = (e: unknown, attr?: string) => number;

function fail(code: ErrorCode, message: string): never {
  throw new SyncError(code, message);
}

/** A value a scalar attribute can hold: a string, a boolean or a finite number. */
export function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

/** The attribute's spec; own keys only, so "constructor" or "__proto__" are unknown attributes, not Object's. */
function specOf(schema: Schema, name: unknown): AttributeSpec | undefined {
  return typeof name === "string" && Object.hasOwn(schema, name) ? schema[name] : undefined;
}

/** Depth of nested arrays/objects, iteratively, stopping as soon as it passes max. */
function deeperThan(root: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== "object") continue;
    if (depth > max) return true;
    for (const child of Object.values(node)) if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
  return false;
}

/** For messages: a short description of a client value that never recurses into it. */
function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return "a list";
  if (v !== null && typeof v === "object") return "a map";
  return String(v);
}

/**
 * An entity position: an existing entity id, a tempid (negative int or string), or a lookup
 * ref on an identity attribute. A positive id must name an entity the db already holds: an
 * invented id (e.g. one just below the first tx id) would move datascript's next entity id
 * and make every later tempid resolve to the same entity. Tempids create entities.
 */
function checkEntity(e: unknown, schema: Schema, where: string, exists: EntityExists): void {
  if (typeof e === "number") {
    if (!Number.isSafeInteger(e) || e === 0) fail(ErrorCode.INVALID_TX, `${where}: entity id must be a non-zero integer`);
    if (e > 0 && !exists(e)) fail(ErrorCode.UNKNOWN_ENTITY, `${where}: entity ${e} does not exist; create entities with a tempid`);
    return;
  }
  if (typeof e === "string") {
    if (e.length === 0 || e.length > 128) fail(ErrorCode.INVALID_TX, `${where}: a string tempid must be 1-128 characters`);
    if (RESERVED_TEMPIDS.has(e)) fail(ErrorCode.INVALID_TX, `${where}: "${e}" names the transaction entity, which holds no data; use another tempid`);
    return;
  }
  if (Array.isArray(e) && e.length === 2 && typeof e[0] === "string") {
    const spec = specOf(schema, e[0]);
    if (!spec?.identity) fail(ErrorCode.INVALID_TX, `${where}: lookup ref attribute ${describe(e[0])} is not a unique identity`);
    checkScalar(e[0], spec!, e[1], where);
    return;
  }
  if (e !== null && typeof e === "object" && !Array.isArray(e)) {
    fail(ErrorCode.INVALID_TX, `${where}: nested maps are not supported; give the child a tempid`);
  }
  fail(ErrorCode.INVALID_TX, `${where}: entity must be an id, a tempid or a [attribute, value] lookup ref`);
}

function checkScalar(attr: string, spec: AttributeSpec, v: unknown, where: string): void {
  if (!isScalar(v) || typeof v !== spec.type) fail(ErrorCode.BAD_VALUE, `${where}: ${describe(attr)} takes a ${spec.type}`);
  if (typeof v === "string" && v.length > MAX_STRING) fail(ErrorCode.BAD_VALUE, `${where}: ${describe(attr)} is over ${MAX_STRING} characters`);
}

function checkValue(attr: string, v: unknown, schema: Schema, where: string, exists: EntityExists): void {
  const spec = specOf(schema, attr);
  if (!spec) fail(ErrorCode.UNKNOWN_ATTRIBUTE, `${where}: unknown attribute ${describe(attr)}`);
  if (spec.type === "ref") checkEntity(v, schema, `${where} ${describe(attr)}`, exists);
  else checkScalar(attr, spec, v, where);
}

function attrOf(a: unknown, schema: Schema, where: string): string {
  if (typeof a !== "string") fail(ErrorCode.INVALID_TX, `${where}: attribute must be a string`);
  if (!specOf(schema, a)) fail(ErrorCode.UNKNOWN_ATTRIBUTE, `${where}: unknown attribute ${describe(a)}`);
  return a;
}

/**
 * Checks tx-data against the schema and the size limit before datascript sees it.
 * Returns the number of datoms it names: each assertion, each retraction with a value as
 * one, and a retraction without one as what it removes (at least one: a retraction that
 * finds nothing costs datascript the same walk, so a frame of 30,000 of them, free before,
 * held the writer ~0.7 s and was committed as an empty t). Counted as one, a 64-byte
 * `:db/retractEntity` of an entity with 20,000 refs held the writer ~0.9 s before the
 * datom limit refused its result, and the frame could be sent again and again.
 * Throws SyncError with a catalogue code on the first problem.
 */
export function validateTx(tx: readonly unknown[], schema: Schema, maxDatoms: number, exists: EntityExists, retracting: RetractionSize = () => 1): number {
  if (tx.length === 0) fail(ErrorCode.INVALID_TX, "a transaction needs at least one item");
  if (deeperThan(tx, MAX_DEPTH)) fail(ErrorCode.INVALID_TX, `tx-data is nested more than ${MAX_DEPTH} levels deep`);
  let assertions = 0;
  tx.forEach((item, i) => {
    const where = `tx[${i}]`;
    if (Array.isArray(item)) {
      const [op, e, a, v] = item as unknown[];
      if (op === ADD) {
        if (item.length !== 4) fail(ErrorCode.INVALID_TX, `${where}: ${ADD} takes [op, e, a, v]`);
        checkEntity(e, schema, where, exists);
        checkValue(attrOf(a, schema, where), v, schema, where, exists);
        assertions += 1;
      } else if (op === RETRACT) {
        if (item.length !== 3 && item.length !== 4) fail(ErrorCode.INVALID_TX, `${where}: ${RETRACT} takes [op, e, a] or [op, e, a, v]`);
        checkEntity(e, schema, where, exists);
        const attr = attrOf(a, schema, where);
        if (item.length === 4) checkValue(attr, v, schema, where, exists);
        assertions += item.length === 4 ? 1 : Math.max(1, retracting(e, attr));
      } else if (typeof op === "string" && RETRACT_ENTITY.includes(op)) {
        if (item.length !== 2) fail(ErrorCode.INVALID_TX, `${where}: ${op} takes [op, e]`);
        checkEntity(e, schema, where, exists);
        assertions += Math.max(1, retracting(e));
      } else {
        fail(ErrorCode.INVALID_TX, `${where}: unsupported op ${describe(op)}; use ${ADD}, ${RETRACT} or :db/retractEntity`);
      }
    } else if (item !== null && typeof item === "object") {
      // {} or {":db/id": e} alone asks for nothing, yet would be committed as a t of its own.
      if (Object.keys(item).every((key) => key === DB_ID)) fail(ErrorCode.INVALID_TX, `${where}: a map needs at least one attribute besides ${DB_ID}`);
      for (const [key, value] of Object.entries(item)) {
        if (key === DB_ID) {
          checkEntity(value, schema, where, exists);
          continue;
        }
        const spec = specOf(schema, key);
        if (!spec) fail(ErrorCode.UNKNOWN_ATTRIBUTE, `${where}: unknown attribute ${describe(key)}`);
        if (Array.isArray(value) && spec.many) {
          value.forEach((v, j) => checkValue(key, v, schema, `${where}[${j}]`, exists));
          assertions += value.length;
        } else {
          if (value !== null && typeof value === "object" && !Array.isArray(value)) {
            fail(ErrorCode.INVALID_TX, `${where}: nested maps are not supported; give the child a tempid`);
          }
          checkValue(key, value, schema, where, exists);
          assertions += 1;
        }
      }
    } else {
      fail(ErrorCode.INVALID_TX, `${where}: each item must be a map or an op vector`);
    }
    if (assertions > maxDatoms) fail(ErrorCode.TX_TOO_LARGE, `transaction names more than ${maxDatoms} datoms, assertions and retractions (SYNC_MAX_TX_DATOMS)`);
  });
  // e.g. [{":db/id": 5, "block/refs": []}]: nothing to apply, yet it would take a t of its own.
  if (assertions === 0) fail(ErrorCode.INVALID_TX, "the transaction asserts and retracts nothing");
  return assertions;
}
