import { ErrorCode, SyncError } from "../errors";
import type { AttributeSpec } from "./schema";

type Schema = Readonly<Record<string, AttributeSpec>>;

const ADD = ":db/add";
const RETRACT = ":db/retract";
const RETRACT_ENTITY = [":db/retractEntity", ":db.fn/retractEntity"];
const DB_ID = ":db/id";

const MAX_STRING = 256 * 1024;

function fail(code: ErrorCode, message: string): never {
  throw new SyncError(code, message);
}

function isScalar(v: unknown): v is string | number | boolean {
  return typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
}

/** An entity position: an id, a tempid (negative int or string), or a lookup ref on an identity attribute. */
function checkEntity(e: unknown, schema: Schema, where: string): void {
  if (typeof e === "number") {
    if (!Number.isSafeInteger(e) || e === 0) fail(ErrorCode.INVALID_TX, `${where}: entity id must be a non-zero integer`);
    return;
  }
  if (typeof e === "string") {
    if (e.length === 0 || e.length > 128) fail(ErrorCode.INVALID_TX, `${where}: a string tempid must be 1-128 characters`);
    return;
  }
  if (Array.isArray(e) && e.length === 2 && typeof e[0] === "string") {
    const spec = schema[e[0]];
    if (!spec?.identity) fail(ErrorCode.INVALID_TX, `${where}: lookup ref attribute "${e[0]}" is not a unique identity`);
    checkScalar(e[0], spec, e[1], where);
    return;
  }
  if (e !== null && typeof e === "object" && !Array.isArray(e)) {
    fail(ErrorCode.INVALID_TX, `${where}: nested maps are not supported; give the child a tempid`);
  }
  fail(ErrorCode.INVALID_TX, `${where}: entity must be an id, a tempid or a [attribute, value] lookup ref`);
}

function checkScalar(attr: string, spec: AttributeSpec, v: unknown, where: string): void {
  if (!isScalar(v) || typeof v !== spec.type) fail(ErrorCode.BAD_VALUE, `${where}: "${attr}" takes a ${spec.type}`);
  if (typeof v === "string" && v.length > MAX_STRING) fail(ErrorCode.BAD_VALUE, `${where}: "${attr}" is over ${MAX_STRING} characters`);
}

function checkValue(attr: string, v: unknown, schema: Schema, where: string): void {
  const spec = schema[attr];
  if (!spec) fail(ErrorCode.UNKNOWN_ATTRIBUTE, `${where}: unknown attribute "${attr}"`);
  if (spec.type === "ref") checkEntity(v, schema, `${where} "${attr}"`);
  else checkScalar(attr, spec, v, where);
}

function attrOf(a: unknown, schema: Schema, where: string): string {
  if (typeof a !== "string") fail(ErrorCode.INVALID_TX, `${where}: attribute must be a string`);
  if (!schema[a]) fail(ErrorCode.UNKNOWN_ATTRIBUTE, `${where}: unknown attribute "${a}"`);
  return a;
}

/**
 * Checks tx-data against the schema and the size limit before datascript sees it.
 * Returns the number of assertions it asks for (a bound on the datoms it adds).
 * Throws SyncError with a catalogue code on the first problem.
 */
export function validateTx(tx: readonly unknown[], schema: Schema, maxDatoms: number): number {
  if (tx.length === 0) fail(ErrorCode.INVALID_TX, "a transaction needs at least one item");
  let assertions = 0;
  tx.forEach((item, i) => {
    const where = `tx[${i}]`;
    if (Array.isArray(item)) {
      const [op, e, a, v] = item as unknown[];
      if (op === ADD) {
        if (item.length !== 4) fail(ErrorCode.INVALID_TX, `${where}: ${ADD} takes [op, e, a, v]`);
        checkEntity(e, schema, where);
        checkValue(attrOf(a, schema, where), v, schema, where);
        assertions += 1;
      } else if (op === RETRACT) {
        if (item.length !== 3 && item.length !== 4) fail(ErrorCode.INVALID_TX, `${where}: ${RETRACT} takes [op, e, a] or [op, e, a, v]`);
        checkEntity(e, schema, where);
        const attr = attrOf(a, schema, where);
        if (item.length === 4) checkValue(attr, v, schema, where);
      } else if (typeof op === "string" && RETRACT_ENTITY.includes(op)) {
        if (item.length !== 2) fail(ErrorCode.INVALID_TX, `${where}: ${op} takes [op, e]`);
        checkEntity(e, schema, where);
      } else {
        fail(ErrorCode.INVALID_TX, `${where}: unsupported op ${JSON.stringify(op)}; use ${ADD}, ${RETRACT} or :db/retractEntity`);
      }
    } else if (item !== null && typeof item === "object") {
      for (const [key, value] of Object.entries(item)) {
        if (key === DB_ID) {
          checkEntity(value, schema, where);
          continue;
        }
        const spec = schema[key];
        if (!spec) fail(ErrorCode.UNKNOWN_ATTRIBUTE, `${where}: unknown attribute "${key}"`);
        if (Array.isArray(value) && spec.many) {
          value.forEach((v, j) => checkValue(key, v, schema, `${where}[${j}]`));
          assertions += value.length;
        } else {
          if (value !== null && typeof value === "object" && !Array.isArray(value)) {
            fail(ErrorCode.INVALID_TX, `${where}: nested maps are not supported; give the child a tempid`);
          }
          checkValue(key, value, schema, where);
          assertions += 1;
        }
      }
    } else {
      fail(ErrorCode.INVALID_TX, `${where}: each item must be a map or an op vector`);
    }
    if (assertions > maxDatoms) fail(ErrorCode.TX_TOO_LARGE, `transaction asserts more than ${maxDatoms} datoms (SYNC_MAX_TX_DATOMS)`);
  });
  return assertions;
}
