/**
 * A `txs` frame leaves out the retraction a cardinality-one assertion implies
 * (protocol/src/tx-datoms.ts). Property: for random transactions run the way the server
 * runs them (datascript's transact on the same schema), the replica applying the wire
 * form ends with exactly the server's datoms, and reports exactly the datoms the server
 * logged, retractions included. Seeded and bounded (TX_DATOMS_SEED=<n> replays a seed).
 */
import ds from "datascript";
import { datascriptSchema } from "../../protocol/src/attributes";
import type { WireDatom } from "../../protocol/src/frames";
import { toTxDatoms } from "../../protocol/src/tx-datoms";
import { Replica } from "../src/replica";
import { prng } from "./harness";

const SEEDS = process.env.TX_DATOMS_SEED ? [Number(process.env.TX_DATOMS_SEED)] : [1, 2, 3, 4];
const STEPS = 400;
const UIDS = ["a", "b", "c", "d", "e", "f"];
const TITLES = ["Home", "Work", "Ideas"];

function randomOp(rand: () => number): unknown {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const ref = () => ["block/uid", pick(UIDS)];
  const roll = rand();
  if (roll < 0.2) return { "block/uid": pick(UIDS), "block/string": `s${Math.floor(rand() * 5)}`, "block/order": Math.floor(rand() * 3) };
  if (roll < 0.45) return [":db/add", ref(), "block/string", `s${Math.floor(rand() * 5)}`];
  if (roll < 0.55) return [":db/add", ref(), "block/open", rand() < 0.5];
  if (roll < 0.65) return [":db/add", ref(), pick(["block/children", "block/refs"]), ref()];
  if (roll < 0.72) return [":db/add", ref(), "node/title", pick(TITLES)];
  if (roll < 0.8) return [":db/retract", ref(), pick(["block/string", "block/children", "block/order"])];
  if (roll < 0.87) return [":db/retract", ref(), "block/string", `s${Math.floor(rand() * 5)}`];
  if (roll < 0.9) return [":db/retractEntity", ref()];
  // Brings a retracted block back, so lookup refs keep resolving.
  return { "block/uid": pick(UIDS) };
}

const facts = (db: ReturnType<typeof ds.empty_db>) =>
  ds.datoms(db, ":eavt").map((d) => JSON.stringify([d.e, d.a, d.v])).sort();
/**
 * As a set: datascript's retractEntity of a block that refers to itself logs the
 * retraction of that ref twice (once as the block's own attribute, once as a ref to it);
 * the replica, told once, reports it once.
 */
const asSet = (datoms: WireDatom[]) => [...new Set(datoms.map((d) => JSON.stringify(d)))].sort();

describe.each(SEEDS)("tx datoms on the wire, seed %i", (seed) => {
  test(`${STEPS} random transactions: the replica ends with the server's datoms and reports the server's tx datoms`, () => {
    const rand = prng(seed);
    const schema = datascriptSchema();
    // Every uid exists from the start, so lookup refs resolve.
    let server = ds.db_with(ds.empty_db(schema), UIDS.map((uid) => ({ "block/uid": uid })));
    const replica = new Replica();
    replica.reset(1, ds.datoms(server, ":eavt").map((d) => [d.e, d.a, d.v, d.tx]));
    let applied = 0;
    let implied = 0;
    for (let step = 0; step < STEPS; step++) {
      const tx = Array.from({ length: 1 + Math.floor(rand() * 4) }, () => randomOp(rand));
      let report;
      try {
        report = ds.transact(ds.conn_from_db(server), tx);
      } catch {
        continue; // datascript refused it (e.g. a title another block holds): the server would reject it too
      }
      // As the server logs them (server/src/datalog/datascript.ts): a retraction has a negative tx.
      const t = 536870913 + step;
      const logged: WireDatom[] = report.tx_data.map((d) => [d.e, d.a, d.v, t, d.tx > 0]);
      const wire = toTxDatoms(logged);
      implied += logged.length - wire.length;
      const reported = replica.apply(t, JSON.parse(JSON.stringify(wire)));
      server = report.db_after;
      applied++;
      expect({ step, tx, facts: facts(replica.db) }).toEqual({ step, tx, facts: facts(server) });
      expect({ step, tx, datoms: asSet(reported) }).toEqual({ step, tx, datoms: asSet(logged) });
    }
    // The property was exercised: most transactions applied, many with an implied retraction.
    expect(applied).toBeGreaterThan(STEPS / 2);
    expect(implied).toBeGreaterThan(50);
  });
});

test("an edit of a block's text is one datom on the wire: [e, a, v]", () => {
  const t = 536870920;
  const logged: WireDatom[] = [[7, "block/string", "old", t, false], [7, "block/string", "new", t, true]];
  expect(toTxDatoms(logged)).toEqual([[7, "block/string", "new"]]);
  // A retraction stays when no assertion follows it, when the same value is asserted again
  // (the replica would see no change), and for a cardinality-many attribute.
  expect(toTxDatoms([[7, "block/string", "new", t, true], [7, "block/string", "new", t, false]])).toEqual([[7, "block/string", "new"], [7, "block/string", "new", false]]);
  expect(toTxDatoms([[7, "block/string", "s", t, false], [7, "block/string", "s", t, true]])).toEqual([[7, "block/string", "s", false], [7, "block/string", "s"]]);
  expect(toTxDatoms([[7, "block/refs", 3, t, false], [7, "block/refs", 4, t, true]])).toEqual([[7, "block/refs", 3, false], [7, "block/refs", 4]]);
});
