import path from "node:path";
import Database from "better-sqlite3";
import { Client, clientView, type Msg, startServer } from "./helpers";

describe("transactions between two clients", () => {
  let ctx: Awaited<ReturnType<typeof startServer>>;
  const clients: Client[] = [];
  beforeEach(async () => {
    ctx = await startServer();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await ctx.server.stop();
  });

  test("one transacts, both receive the same datoms, tempids resolve", async () => {
    const alice = await Client.connect(ctx.url, "alice");
    const bob = await Client.connect(ctx.url, "bob");
    clients.push(alice, bob);
    const ack = await alice.transact("tx-1", [
      { ":db/id": -1, "node/title": "Welcome", "block/uid": "page-1" },
      { ":db/id": -2, "block/uid": "b-1", "block/string": "hello" },
      [":db/add", -1, "block/children", -2],
    ]);
    expect(ack).toMatchObject({ type: "ack", id: "tx-1", t: 536870913 });
    expect(Object.keys(ack.tempids).sort()).toEqual(["-1", "-2"]);
    const page = ack.tempids["-1"];
    const block = ack.tempids["-2"];
    const seenByAlice = await alice.next((m) => m.type === "tx" && m.t === ack.t);
    const seenByBob = await bob.next((m) => m.type === "tx" && m.t === ack.t);
    expect(seenByBob.datoms).toEqual(seenByAlice.datoms);
    expect(seenByBob.author).toBe("alice");
    expect(seenByBob.datoms).toContainEqual([page, "block/children", block, ack.t, true]);
    expect(seenByBob.datoms).toContainEqual([block, "block/string", "hello", ack.t, true]);
    expect(clientView(bob.messages)).toEqual(clientView(alice.messages));
  });

  test("the ack is sent only once the transaction is in the log on disk", async () => {
    const alice = await Client.connect(ctx.url);
    clients.push(alice);
    const reader = new Database(path.join(ctx.dataDir, "sync.db"), { readonly: true });
    try {
      const acks = await Promise.all(
        Array.from({ length: 20 }, (_, i) => alice.transact(`t${i}`, [{ "block/uid": `u${i}`, "block/string": `s${i}` }])),
      );
      for (const ack of acks) {
        expect(ack.type).toBe("ack");
        const row = reader.prepare("SELECT datoms FROM log WHERE t = ?").get(ack.t) as { datoms: string } | undefined;
        expect(row).toBeDefined();
      }
      expect(new Set(acks.map((a) => a.t)).size).toBe(20);
    } finally {
      reader.close();
    }
  });

  test("a resent id gets the original ack, not a second transaction", async () => {
    const alice = await Client.connect(ctx.url, "alice");
    clients.push(alice);
    const first = await alice.transact("same", [{ ":db/id": -1, "block/uid": "x", "block/string": "once" }]);
    await alice.close();
    clients.pop();
    const again = await Client.connect(ctx.url, "alice", { since: first.t });
    clients.push(again);
    const second = await again.transact("same", [{ ":db/id": -1, "block/uid": "x", "block/string": "once" }]);
    expect(second).toEqual(first);
    expect(ctx.server.sync.t).toBe(first.t);
    // Two copies in one burst also yield one transaction.
    again.send({ type: "transact", id: "burst", tx: [{ "block/uid": "y" }] });
    again.send({ type: "transact", id: "burst", tx: [{ "block/uid": "y" }] });
    await again.next((m) => m.type === "ack" && m.id === "burst");
    await new Promise((r) => setTimeout(r, 50));
    const acks = again.messages.filter((m) => m.type === "ack" && m.id === "burst");
    expect(acks).toHaveLength(2);
    expect(acks[0]).toEqual(acks[1]);
    expect(ctx.server.sync.t).toBe(first.t + 1);
  });

  test("a failing transaction is rejected and leaves the db as it was", async () => {
    const alice = await Client.connect(ctx.url);
    clients.push(alice);
    const t = ctx.server.sync.t;
    const rejected = await alice.transact("bad", [[":db/add", ["block/uid", "missing"], "block/string", "x"]]);
    expect(rejected).toMatchObject({ type: "rejected", id: "bad", code: "tx_failed" });
    const ok = await alice.transact("good", [{ "block/uid": "a" }]);
    expect(ok).toMatchObject({ type: "ack", t: t + 1 });
  });

  test("queries run on the committed db", async () => {
    const alice = await Client.connect(ctx.url);
    clients.push(alice);
    await alice.transact("q1", [{ "block/uid": "a", "block/string": "alpha" }, { "block/uid": "b", "block/string": "beta" }]);
    alice.send({ type: "q", id: "r1", query: '[:find ?s :in $ ?u :where [?e "block/uid" ?u] [?e "block/string" ?s]]', args: ["b"] });
    expect(await alice.next((m) => m.id === "r1")).toEqual({ type: "result", id: "r1", rows: [["beta"]] });
    alice.send({ type: "q", id: "r2", query: "[:find ?e :where [?e" });
    expect(await alice.next((m) => m.id === "r2")).toMatchObject({ type: "error", code: "bad_query", id: "r2" });
  });

  test("a runaway query hits the time limit and the server keeps serving", async () => {
    await ctx.server.stop();
    ctx = await startServer(undefined, { SYNC_QUERY_TIMEOUT: "200ms" });
    const alice = await Client.connect(ctx.url);
    clients.push(alice);
    await alice.transact("seed", Array.from({ length: 3000 }, (_, i) => ({ "block/order": i })));
    // A ready worker first: the time it takes to load the db is not the query's (query-load.test.ts).
    // On a busy machine a cold worker's first query can itself run over 200 ms: retry.
    let warm: Msg = { type: "none" };
    for (let i = 0; i < 10 && warm.type !== "result"; i++) {
      alice.send({ type: "q", id: `warm-${i}`, query: '[:find ?e :where [?e "block/order" 1]]' });
      warm = await alice.next((m) => m.id === `warm-${i}`);
    }
    expect(warm).toMatchObject({ type: "result" });
    const started = Date.now();
    alice.send({ type: "q", id: "slow", query: '[:find ?a ?b :where [?a "block/order" ?x] [?b "block/order" ?y] [(< ?x ?y)]]' });
    expect(await alice.next((m) => m.id === "slow")).toMatchObject({ type: "error", code: "query_timeout" });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await alice.transact("after", [{ "block/uid": "still-up" }])).toMatchObject({ type: "ack" });
  });
});
