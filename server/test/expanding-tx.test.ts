import { Client, type Msg, startServer, viewOf } from "./helpers";
import { SCHEMA } from "../../protocol/src/attributes";
import { orderUpserts } from "../src/datalog/upserts";

/**
 * Small frames whose cost datascript multiplies (a hostile review): a 37 KB frame that
 * upserts 500 tempids after their first use held the writer 7.4 s (datascript reruns the
 * whole transaction once per such tempid), and a 64-byte :db/retractEntity of an entity
 * with 20,000 refs held it ~0.9 s before the datom limit refused the result, again and again.
 * Each is now either made cheap or refused before datascript runs, and the victim's
 * transaction beside it is acked promptly.
 */
async function seedUids(c: Client, n: number): Promise<Record<string, number>> {
  const ack = await c.transact("seed", Array.from({ length: n }, (_, i) => ({ ":db/id": `s${i}`, "block/uid": `u${i}` })));
  expect(ack.type).toBe("ack");
  return ack.tempids as Record<string, number>;
}

async function victimAckMs(victim: Client, id: string): Promise<number> {
  const started = Date.now();
  victim.send({ type: "transact", id, tx: [{ "block/uid": `victim-${id}`, "block/string": "x" }] });
  const ack: Msg = await victim.next((m) => (m.type === "ack" || m.type === "rejected") && m.id === id, 60_000);
  expect(ack.type).toBe("ack");
  return Date.now() - started;
}

describe("transactions datascript would multiply", () => {
  test("500 tempids set first and upserted after (op vectors): applied in one run, to the existing entities", async () => {
    const ctx = await startServer();
    try {
      const a = await Client.connect(ctx.url, "alice");
      const victim = await Client.connect(ctx.url, "victim");
      const ids = await seedUids(a, 500);
      const tx: unknown[] = [];
      for (let i = 0; i < 500; i++) tx.push([":db/add", `t${i}`, "block/order", i]);
      for (let i = 0; i < 500; i++) tx.push([":db/add", `t${i}`, "block/uid", `u${i}`]);
      a.send({ type: "transact", id: "late", tx });
      const victimMs = await victimAckMs(victim, "v1");
      const ack = await a.next((m) => m.id === "late", 60_000);
      expect(ack).toMatchObject({ type: "ack" });
      // Upserted: every tempid resolved to the seeded entity with that uid, none was created.
      for (let i = 0; i < 500; i++) expect(ack.tempids[`t${i}`]).toBe(ids[`s${i}`]);
      const view = await viewOf(ctx.url);
      expect(view.filter((d) => d.includes('"block/uid"')).length).toBe(501);
      expect(view).toContain(JSON.stringify([ids.s499, "block/order", 499]));
      expect(victimMs).toBeLessThan(2000); // was ~7,400 ms behind it
    } finally {
      await ctx.server.stop();
    }
  });

  test("a chain of upserts that reordering cannot save is refused tx_too_large before datascript runs it", async () => {
    const ctx = await startServer();
    try {
      const a = await Client.connect(ctx.url, "alice");
      const victim = await Client.connect(ctx.url, "victim");
      await seedUids(a, 300);
      // Each item refers to the next tempid, which the next item then upserts: 299 reruns.
      const chain = (n: number) => Array.from({ length: n }, (_, i) => ({ ":db/id": `t${i}`, "block/uid": `u${i}`, ...(i + 1 < n ? { "block/refs": [`t${i + 1}`] } : {}) }));
      a.send({ type: "transact", id: "chain", tx: chain(300) });
      const victimMs = await victimAckMs(victim, "v1");
      const refused = await a.next((m) => m.id === "chain", 60_000);
      expect(refused).toMatchObject({ type: "rejected", code: "tx_too_large" });
      expect(refused.message).toMatch(/lookup ref/);
      expect(victimMs).toBeLessThan(2000);
      // A short chain is still applied, and resolves to the existing entities.
      const ok = await a.transact("short", chain(4));
      expect(ok).toMatchObject({ type: "ack", tempids: { t0: expect.any(Number) } });
    } finally {
      await ctx.server.stop();
    }
  });

  test(":db/retractEntity counts the datoms it would remove, refs to the entity included", async () => {
    const ctx = await startServer(undefined, { SYNC_MAX_TX_DATOMS: "1000" });
    try {
      const a = await Client.connect(ctx.url, "alice");
      const victim = await Client.connect(ctx.url, "victim");
      const hub = (await a.transact("hub", [{ ":db/id": "h", "block/uid": "hub" }])).tempids.h as number;
      for (let k = 0; k < 3; k++) {
        const refs = Array.from({ length: 500 }, (_, i) => ({ "block/uid": `r${k}-${i}`, "block/refs": hub }));
        expect((await a.transact(`refs-${k}`, refs)).type).toBe("ack");
      }
      // 64 bytes naming 1,501 datoms (its uid and 1,500 refs): refused before datascript walks them.
      for (let k = 0; k < 5; k++) a.send({ type: "transact", id: `re-${k}`, tx: [[":db/retractEntity", hub]] });
      const victimMs = await victimAckMs(victim, "v1");
      const refused = await a.next((m) => m.id === "re-4", 30_000);
      expect(refused).toMatchObject({ type: "rejected", code: "tx_too_large" });
      expect(victimMs).toBeLessThan(2000);
      // By lookup ref too, and [:db/retract e a] counts e's values of a.
      expect(await a.transact("re-lookup", [[":db/retractEntity", ["block/uid", "hub"]]])).toMatchObject({ type: "rejected", code: "tx_too_large" });
      const small = (await a.transact("small", [{ ":db/id": "m", "block/uid": "small", "block/refs": [hub] }])).tempids.m as number;
      expect(await a.transact("retract-small", [[":db/retractEntity", small]])).toMatchObject({ type: "ack" });
      expect(await a.transact("retract-refs", [[":db/retract", hub, "block/refs"]])).toMatchObject({ type: "ack" });
    } finally {
      await ctx.server.stop();
    }
  });
});

describe("orderUpserts", () => {
  const none = () => false;
  const all = () => true;

  test("moves upserting items first only when that saves a rerun, keeping each group's order", () => {
    const tx = [
      [":db/add", "a", "block/order", 1],
      [":db/add", "b", "block/order", 2],
      [":db/add", "a", "block/uid", "A"],
      [":db/add", "b", "block/uid", "B"],
    ];
    expect(orderUpserts(tx, SCHEMA, none)).toEqual({ tx, reruns: 0 }); // new uids: datascript never reruns
    expect(orderUpserts(tx, SCHEMA, all)).toEqual({ tx: [tx[2], tx[3], tx[0], tx[1]], reruns: 0 });
  });

  test("a uid given twice in one transaction counts as existing for the second tempid", () => {
    const tx = [{ ":db/id": "x", "block/refs": ["y"], "block/uid": "U" }, { ":db/id": "y", "block/uid": "U" }];
    expect(orderUpserts(tx, SCHEMA, none).reruns).toBe(1);
  });

  test("a transaction with a retraction keeps its order (moving an upsert before it could change what it resolves to)", () => {
    const tx = [[":db/add", "a", "block/order", 1], [":db/retract", 7, "block/uid", "A"], [":db/add", "a", "block/uid", "A"]];
    expect(orderUpserts(tx, SCHEMA, all)).toEqual({ tx, reruns: 1 });
  });
});
