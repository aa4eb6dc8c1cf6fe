import type { Value } from "./datascript";
import type { AttributeSpec } from "./schema";
import { isScalar } from "./validate";

type Schema = Readonly<Record<string, AttributeSpec>>;

/** An entity that exists already: its id, or a lookup ref [identity attribute, value]. */
export type ExistingEntity = number | readonly [string, Value];

/** One value set on an entity that exists: `[:db/add e a v]`, a single-valued scalar attribute. */
export interface PlainEdit {
  readonly e: ExistingEntity;
  readonly a: string;
  readonly v: Value;
}

const ADD = ":db/add";
const DB_ID = ":db/id";
/**
 * A map with more keys than this becomes a hash map in datascript (ClojureScript's array
 * map holds 8 entries), which walks its attributes in hash order, not the map's: the
 * datoms would come out in another order than ours.
 */
const MAX_MAP_KEYS = 8;

/**
 * Whether an attribute can be set without datascript: single-valued, a scalar, and not an
 * identity. Setting one never creates or removes an entity, never changes what a lookup
 * ref or an upsert resolves to, and replaces at most one value.
 */
function plainAttribute(schema: Schema, a: unknown): a is string {
  if (typeof a !== "string" || !Object.hasOwn(schema, a)) return false;
  const spec = schema[a]!;
  return spec.type !== "ref" && !spec.many && !spec.identity;
}

function existingEntity(schema: Schema, e: unknown): e is ExistingEntity {
  if (typeof e === "number") return Number.isSafeInteger(e) && e > 0;
  return Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && Object.hasOwn(schema, e[0]) && schema[e[0]]!.identity === true && isScalar(e[1]);
}

/**
 * The edits a transaction makes when it only sets plain values on entities that exist
 * (what an editor sends on every keystroke: a block's string, its order, who edited it
 * when), in datascript's order; null for anything else (tempids, refs, identities,
 * many-valued attributes, retractions), which datascript applies. The transaction must
 * pass validateTx too: this only reads its shape.
 */
export function plainEdits(tx: readonly unknown[], schema: Schema): PlainEdit[] | null {
  const edits: PlainEdit[] = [];
  for (const item of tx) {
    if (Array.isArray(item)) {
      if (item.length !== 4 || item[0] !== ADD) return null;
      const [, e, a, v] = item as unknown[];
      if (!existingEntity(schema, e) || !plainAttribute(schema, a) || !isScalar(v)) return null;
      edits.push({ e, a, v });
    } else if (item !== null && typeof item === "object") {
      const keys = Object.keys(item);
      if (keys.length > MAX_MAP_KEYS || !Object.hasOwn(item, DB_ID)) return null;
      const map = item as Record<string, unknown>;
      const e = map[DB_ID];
      if (!existingEntity(schema, e)) return null;
      for (const a of keys) {
        if (a === DB_ID) continue;
        const v = map[a];
        if (!plainAttribute(schema, a) || !isScalar(v)) return null;
        edits.push({ e, a, v });
      }
    } else return null;
  }
  return edits.length > 0 ? edits : null;
}
