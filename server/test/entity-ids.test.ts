import { TX0 } from "../src/datalog/datascript";
import { Client, startServer, tmpDir } from "./helpers";

/**
 * Issue 9 item 5: an invented entity id moved datascript's next entity id, so every later
 * tempid resolved to the same entity (536870912) and new blocks overwrote each other, for
 * good. Explicit ids must now name an existing entity; tempids create entities.
 */
describe("explicit entity ids must name existing entities", () => {
  const dataDir = tmpDir();
  let ctx: Awaited<ReturnType<typeof startServer>>;
  let c: Client;
  let existing: number;
  let n = 0;
  const id = () => `tx-${n++}`;

  beforeAll(async () => {
    ctx = await startServer(dataDir);
    c = await Client.connect(ctx.url, "alice");
    const ack = await c.transact(id(), [{ ":db/id": "a", "block/uid": "existing", "block/string": "kept" }]);
    existing = ack.tempids.a;
  });
  afterAll(async () => {
    await c.close();
    await ctx.server.stop();
  });

  const bad = [TX0 - 1, TX0, TX0 + 1, 2 ** 31 - 1, 2 ** 31, 2 ** 40, 1_000_000, 12345];

  test.each(bad)("[:db/add %d …] → rejected unknown_entity", async (e) => {
    const t = ctx.server.sync.t;
    expect(await c.transact(id(), [[":db/add", e, "block/string", "x"]])).toMatchObject({ type: "rejected", code: "unknown_entity" });
    expect(ctx.server.sync.t).toBe(t);
  });

  test.each(bad)("{:db/id %d} → rejected unknown_entity", async (e) => {
    expect(await c.transact(id(), [{ ":db/id": e, "block/string": "x" }])).toMatchObject({ type: "rejected", code: "unknown_entity" });
  });

  test.each(bad)("a ref to %d → rejected unknown_entity (no dangling ref)", async (e) => {
    expect(await c.transact(id(), [{ ":db/id": -1, "block/uid": `r${e}`, "block/refs": [e] }])).toMatchObject({ type: "rejected", code: "unknown_entity" });
    expect(await c.transact(id(), [[":db/add", existing, "block/children", e]])).toMatchObject({ type: "rejected", code: "unknown_entity" });
  });

  test("retracting an entity that does not exist → unknown_entity", async () => {
    expect(await c.transact(id(), [[":db/retractEntity", TX0 - 1]])).toMatchObject({ type: "rejected", code: "unknown_entity" });
  });

  test.each([":db/current-tx", "datomic.tx", "datascript.tx"])("the tx-entity tempid %s → invalid_tx", async (tempid) => {
    expect(await c.transact(id(), [[":db/add", tempid, "block/string", "x"]])).toMatchObject({ type: "rejected", code: "invalid_tx" });
  });

  test("existing ids, tempids and lookup refs still work", async () => {
    expect(await c.transact(id(), [[":db/add", existing, "block/string", "edited"]])).toMatchObject({ type: "ack" });
    expect(await c.transact(id(), [{ ":db/id": ["block/uid", "existing"], "block/order": 1 }])).toMatchObject({ type: "ack" });
    const ack = await c.transact(id(), [{ ":db/id": -1, "block/uid": "child" }, [":db/add", existing, "block/children", -1]]);
    expect(ack).toMatchObject({ type: "ack" });
  });

  async function freshTempidsAreDistinct(client: Client): Promise<number[]> {
    const a = await client.transact(id(), [{ ":db/id": "x", "block/uid": `fresh-${n}` }]);
    const b = await client.transact(id(), [{ ":db/id": "x", "block/uid": `fresh-${n}` }]);
    expect(a.type).toBe("ack");
    expect(b.type).toBe("ack");
    const eids = [a.tempids.x as number, b.tempids.x as number];
    expect(eids[0]).not.toBe(eids[1]);
    for (const e of eids) expect(e).toBeLessThan(1000);
    return eids;
  }

  test("after all that, new tempids get fresh small ids and the existing block is intact; also after a restart", async () => {
    await freshTempidsAreDistinct(c);
    expect(ctx.server.sync.t).toBeLessThan(TX0 + 20);
    await c.close();
    await ctx.server.stop();
    ctx = await startServer(dataDir);
    c = await Client.connect(ctx.url, "alice");
    await freshTempidsAreDistinct(c);
    const view = c.messages.find((m) => m.type === "snapshot")!.datoms as Array<[number, string, unknown]>;
    expect(view).toEqual(expect.arrayContaining([[existing, "block/string", "edited", expect.any(Number), true]]));
  });
});
