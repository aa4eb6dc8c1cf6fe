/**
 * Property: N clients making random edits through random disconnects (their own, and
 * the server being killed) all end with exactly the server's datoms, every transaction
 * settles once, and the server applied each accepted one exactly once. Seeded and
 * bounded; a failure prints its seed (PROPERTY_SEED=<n> replays it).
 */
import { type Ack, type SyncClient, SyncClientError } from "../src";
import { ServerProcess, TX0, client, prng, replicaFacts, sleep, waitFor } from "./harness";

const SEEDS = process.env.PROPERTY_SEED ? [Number(process.env.PROPERTY_SEED)] : [1, 2];
const CLIENTS = 3;
const STEPS = 60;

function randomTx(rand: () => number, c: SyncClient, who: string, step: number): unknown[] {
  const uids = c.q<string[][]>('[:find ?u :where [?e "block/uid" ?u]]').map((r) => r[0]!);
  const pick = () => uids[Math.floor(rand() * uids.length)]!;
  const roll = rand();
  if (uids.length === 0 || roll < 0.35) {
    const parent = uids.length > 0 && rand() < 0.6 ? [[":db/add", ["block/uid", pick()], "block/children", -1]] : [];
    return [{ ":db/id": -1, "block/uid": `${who}-${step}`, "block/string": `new ${step}`, "block/order": step }, ...parent];
  }
  if (roll < 0.75) return [[":db/add", ["block/uid", pick()], "block/string", `${who} edit ${step}`]];
  if (roll < 0.85) return [[":db/add", ["block/uid", pick()], "block/children", ["block/uid", pick()]]];
  if (roll < 0.92) return [[":db/retract", ["block/uid", pick()], "block/string"]];
  return [[":db/retractEntity", ["block/uid", pick()]]];
}

describe.each(SEEDS)("property, seed %i", (seed) => {
  test(`${CLIENTS} clients, ${STEPS} random steps each, random disconnects and a server kill: all converge on the server`, async () => {
    const rand = prng(seed);
    const server = await new ServerProcess().start();
    const clients = Array.from({ length: CLIENTS }, (_, i) => client(server.url, `p${i}`, { random: rand }));
    try {
      await Promise.all(clients.map((c) => c.whenLive()));
      const results: Array<Promise<Ack | SyncClientError>> = [];
      const killAt = Math.floor(STEPS * (0.3 + rand() * 0.4));
      for (let step = 0; step < STEPS; step++) {
        if (step === killAt) {
          await server.kill("SIGKILL");
          void server.start();
        }
        for (const [i, c] of clients.entries()) {
          if (rand() < 0.05) c.reconnect();
          const tx = randomTx(rand, c, `p${i}`, step);
          results.push(c.transact(tx).catch((err: SyncClientError) => err));
        }
        await sleep(Math.floor(rand() * 15));
      }
      const settled = await Promise.all(results);
      const acks = settled.filter((r): r is Ack => !(r instanceof SyncClientError));
      const errors = settled.filter((r): r is SyncClientError => r instanceof SyncClientError);
      // Only the server's verdict on a transaction's content may reject it.
      expect(errors.map((e) => e.code).filter((code) => code !== "tx_failed")).toEqual([]);
      // Every accepted transaction has its own t, and the server holds exactly that many.
      expect(new Set(acks.map((a) => a.t)).size).toBe(acks.length);
      const lastT = TX0 + acks.length;
      expect(Math.max(...acks.map((a) => a.t))).toBe(lastT);
      await waitFor("every replica at the server's t", () => clients.every((c) => c.status === "live" && c.t === lastT), 20_000);
      const facts = await server.facts();
      for (const c of clients) expect(replicaFacts(c)).toEqual(facts);
      console.log(`seed ${seed}: ${acks.length} applied, ${errors.length} refused by the server (tx_failed), ${clients.reduce((n, c) => n + c.stats.connects, 0)} connections`);
    } finally {
      clients.forEach((c) => c.close());
      await server.kill();
    }
  }, 120_000);
});
