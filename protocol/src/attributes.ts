/**
 * The knowledge graph's attributes: the server accepts only these, and every client's
 * replica needs the same refs, cardinalities and identities to apply the server's datoms.
 * No runtime dependencies (safe for a browser bundle). Documented in ../PROTOCOL.md.
 */
export type ValueType = "string" | "number" | "boolean" | "ref";

export interface AttributeSpec {
  readonly type: ValueType;
  readonly many?: boolean;
  /** Unique identity: usable in lookup refs and upserts. */
  readonly identity?: boolean;
}

/**
 * A transaction naming any other attribute is rejected, so a typo never becomes
 * permanent data. Adding an attribute is a code change; datascript needs no migration for it.
 */
export const SCHEMA: Readonly<Record<string, AttributeSpec>> = Object.freeze({
  "block/uid": { type: "string", identity: true },
  "block/string": { type: "string" },
  "block/order": { type: "number" },
  "block/open": { type: "boolean" },
  "block/heading": { type: "number" },
  "block/text-align": { type: "string" },
  "block/children": { type: "ref", many: true },
  "block/refs": { type: "ref", many: true },
  "node/title": { type: "string", identity: true },
  "page/sidebar": { type: "number" },
  "create/time": { type: "number" },
  "create/auth": { type: "string" },
  "edit/time": { type: "number" },
  "edit/auth": { type: "string" },
});

/** A schema in datascript's own terms: attribute → { ":db/valueType": ":db.type/ref", … }. */
export type DatascriptSchema = Record<string, Record<string, string>>;

/** The same schema in datascript's own terms. */
export function datascriptSchema(schema: Readonly<Record<string, AttributeSpec>> = SCHEMA): DatascriptSchema {
  const out: DatascriptSchema = {};
  for (const [attr, spec] of Object.entries(schema)) {
    const entry: Record<string, string> = {};
    if (spec.type === "ref") entry[":db/valueType"] = ":db.type/ref";
    if (spec.many) entry[":db/cardinality"] = ":db.cardinality/many";
    if (spec.identity) entry[":db/unique"] = ":db.unique/identity";
    out[attr] = entry;
  }
  return out;
}
