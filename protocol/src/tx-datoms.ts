/**
 * A committed transaction's datoms as a `txs` frame carries them (since protocol 4;
 * PROTOCOL.md, "Datoms"; protocol 5 packs them flat, see ./txs-frame.ts). Every datom
 * of a transaction has that transaction's t, so none carries it; an assertion is
 * `[e, a, v]` and a retraction `[e, a, v, false]` (in protocol 5, `e, attr, v` with a
 * negative e for a retraction). The retraction of a
 * cardinality-one attribute's old value is left out when the transaction goes on to
 * assert a new value for that entity and attribute: applying the assertion with
 * datascript (the client's replica) retracts the old value itself. Editing a block is then
 * one short datom on the wire, not two long ones; those bytes were most of what every
 * client parsed, and of the server's `writev`, per edit.
 *
 * No runtime dependencies beyond the schema (safe for a browser bundle).
 */
import { SCHEMA } from "./attributes";
import type { Value, WireDatom } from "./frames";

/** A datom in a `txs` frame: asserted `[e, a, v]`, or retracted `[e, a, v, false]`. */
export type TxDatom = [number, string, Value] | [number, string, Value, false];

/**
 * The datoms of one transaction, as the server logged them (datascript's order), in
 * their wire form. A retraction of a cardinality-one attribute is implied, and dropped,
 * when the next datom of the transaction about the same entity and attribute asserts a
 * different value: the replica, applying that assertion, retracts the value it holds,
 * which is the dropped one. Any other retraction stays (a lone one; one followed by the
 * same value again, which datascript would not see as a change; any of a
 * cardinality-many attribute).
 */
export function toTxDatoms(datoms: readonly WireDatom[]): TxDatom[] {
  const implied = new Set<number>();
  // Per (entity, cardinality-one attribute): the index of a retraction not yet followed by an assertion.
  const open = new Map<string, number>();
  datoms.forEach(([e, a, v, , added], i) => {
    if (SCHEMA[a]?.many === true) return;
    const key = `${e}\u0000${a}`;
    if (!added) return void open.set(key, i);
    const retraction = open.get(key);
    if (retraction !== undefined && datoms[retraction]![2] !== v) implied.add(retraction);
    open.delete(key);
  });
  return datoms.flatMap(([e, a, v, , added], i): TxDatom[] => (added ? [[e, a, v]] : implied.has(i) ? [] : [[e, a, v, false]]));
}
