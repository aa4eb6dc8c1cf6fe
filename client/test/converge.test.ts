import { ErrorCode, type SyncClient } from "../src";
import { ServerProcess, client, replicaFacts, waitFor } from "./harness";

describe("two clients against a real server", () => {
  let server: ServerProcess;
  const clients: SyncClient[] = [];
  beforeAll(async () => {
    server = await new ServerProcess().start();
  });
  afterEach(() => clients.splice(0).forEach((c) => c.close()));
  afterAll(() => server.kill());

  test("two clients converge on the server's datoms, and see each other's edits through listen()", async () => {
    const a = client(server.url, "alice");
    const b = client(server.url, "bob");
    clients.push(a, b);
    await Promise.all([a.whenLive(), b.whenLive()]);
    const seenByB: number[] = [];
    b.listen((report) => seenByB.push(report.t));
    const ack = await a.transact([{ ":db/id": -1, "node/title": "Inbox" }]);
    await b.transact([{ ":db/id": -1, "block/uid": "b1", "block/string": "from bob" }, [":db/add", ack.tempids["-1"]!, "block/children", -1]]);
    await waitFor("both replicas at the server's t", () => a.t === b.t && a.t >= ack.t + 1);
    expect(seenByB).toContain(ack.t);
    const facts = await server.facts();
    expect(replicaFacts(a)).toEqual(facts);
    expect(replicaFacts(b)).toEqual(facts);
    const children = a.q<string[][]>('[:find ?s :where [?p "node/title" "Inbox"] [?p "block/children" ?c] [?c "block/string" ?s]]');
    expect(children).toEqual([["from bob"]]);
  });

  test("tempids resolve: the ack maps each tempid to the entity the replica holds when the promise settles", async () => {
    const a = client(server.url, "alice");
    clients.push(a);
    await a.whenLive();
    const ack = await a.transact([
      { ":db/id": "page", "node/title": "Tempids" },
      { ":db/id": -7, "block/uid": "t-1", "block/string": "one" },
      [":db/add", "page", "block/children", -7],
    ]);
    const page = ack.tempids["page"]!;
    const block = ack.tempids["-7"]!;
    expect(page).toBeGreaterThan(0);
    expect(block).toBeGreaterThan(0);
    // Resolved only after the replica applied the tx: a query right after await sees it.
    expect(a.t).toBeGreaterThanOrEqual(ack.t);
    expect(a.q('[:find ?e . :where [?e "node/title" "Tempids"]]')).toBe(page);
    expect(a.q('[:find ?c . :in $ ?p :where [?p "block/children" ?c]]', page)).toBe(block);
  });

  test("a rejected transaction rejects with the server's code, and the client stays live", async () => {
    const a = client(server.url, "alice");
    clients.push(a);
    await a.whenLive();
    await expect(a.transact([{ ":db/id": -1, "no/such": "x" }])).rejects.toMatchObject({ code: ErrorCode.UNKNOWN_ATTRIBUTE });
    await expect(a.transact([[":db/add", ["block/uid", "missing"], "block/string", "x"]])).rejects.toMatchObject({ code: ErrorCode.TX_FAILED });
    expect(a.status).toBe("live");
    expect(a.pending).toBe(0);
  });

  test("presence: each sees the other online, and the other's page and block", async () => {
    const a = client(server.url, "alice");
    const b = client(server.url, "bob");
    clients.push(a, b);
    await Promise.all([a.whenLive(), b.whenLive()]);
    let events = 0;
    a.on("presence", () => events++);
    b.setPresence({ page: "Inbox", block: "b1" });
    await waitFor("bob's focus on alice", () => a.presence.some((p) => p.name === "bob" && p.block === "b1" && p.page === "Inbox"));
    expect(events).toBeGreaterThan(0);
    // B's roster comes in the presence tick after its synced, possibly the very tick that
    // carried its focus to A: A may read its frame before B reads its own.
    await waitFor("bob's roster", () => b.presence.length === 2);
    expect(b.presence.map((p) => p.name).sort()).toEqual(["alice", "bob"]);
    b.close();
    await waitFor("bob gone from alice's presence", () => !a.presence.some((p) => p.name === "bob"));
  });
});

describe("the README's example", () => {
  test("runs as written (with ws injected) and does what its comments say", async () => {
    const server = await new ServerProcess().start();
    const sync = client(server.url, "alice");
    try {
      const statuses: string[] = [];
      sync.on("status", (status) => statuses.push(status));
      const { tempids } = await sync.transact([
        { ":db/id": "page", "node/title": "Inbox", "block/uid": "inbox" },
        { ":db/id": -1, "block/uid": "b1", "block/string": "Buy milk", "block/order": 0 },
        [":db/add", "page", "block/children", -1],
      ]);
      expect(Object.keys(tempids).sort()).toEqual(["-1", "page"]);
      const titles = () => sync.q('[:find ?t :where [_ "node/title" ?t]]');
      expect(titles()).toEqual([["Inbox"]]);
      const seen: string[] = [];
      sync.listen(({ author, t }) => seen.push(`${author} committed ${t}`));
      sync.setPresence({ page: "Inbox", block: "b1" });
      await sync.transact([[":db/add", ["block/uid", "b1"], "block/string", "Buy oat milk"]]);
      expect(seen).toEqual([`alice committed ${sync.t}`]);
      await waitFor("own presence", () => sync.presence.some((p) => p.block === "b1"));
      expect(statuses).toEqual(["catching-up", "live"]);
    } finally {
      sync.close();
      await server.kill();
    }
  });
});
