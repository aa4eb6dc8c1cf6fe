import { type Ack, type SyncClient, memoryPersistence } from "../src";
import { ServerProcess, TX0, client, replicaFacts, sleep, stranded, waitFor } from "./harness";

/** Each transaction creates one block whose uid is its label, so the server's blocks count what was applied. */
const block = (uid: string) => [{ ":db/id": -1, "block/uid": uid, "block/string": uid }];

async function blocks(server: ServerProcess): Promise<string[]> {
  const facts = await server.facts();
  return facts.map((f) => JSON.parse(f) as [number, string, string]).filter(([, a]) => a === "block/uid").map(([, , v]) => v).sort();
}

describe("reconnect across server restarts (real process)", () => {
  const clients: SyncClient[] = [];
  afterEach(() => clients.splice(0).forEach((c) => c.close()));

  test("kill -9 mid-stream: no acked and no queued transaction is lost, none is applied twice", async () => {
    const server = await new ServerProcess().start();
    const a = client(server.url, "alice");
    const b = client(server.url, "bob");
    clients.push(a, b);
    await Promise.all([a.whenLive(), b.whenLive()]);
    const acks: Array<Promise<Ack>> = [];
    const labels: string[] = [];
    let stop = false;
    // Two writers, each a transaction every ~5 ms, across the crash and the outage.
    const writer = async (c: SyncClient, who: string) => {
      for (let i = 0; !stop && i < 150; i++) {
        labels.push(`${who}-${i}`);
        acks.push(c.transact(block(`${who}-${i}`)));
        await sleep(5);
      }
    };
    const started = Date.now();
    const writing = Promise.all([writer(a, "a"), writer(b, "b")]);
    await sleep(300);
    const ackedBeforeKill = await Promise.race([Promise.all(acks.slice(0, 10)), sleep(5000).then(() => null)]);
    expect(ackedBeforeKill).not.toBeNull();
    await server.kill("SIGKILL");
    await waitFor("both offline", () => a.status !== "live" && b.status !== "live");
    await sleep(300); // transactions made now are queued
    expect(a.pending + b.pending).toBeGreaterThan(0);
    await server.start();
    await sleep(300);
    stop = true;
    await writing;
    const settled = await Promise.all(acks);
    console.log(`kill -9: ${labels.length} transactions, all acked ${Date.now() - started} ms after the first`);
    await waitFor("both replicas at the last ack", () => Math.min(a.t, b.t) >= Math.max(...settled.map((s) => s.t)));
    // Every transaction got its own t: nothing was applied twice, and none is missing.
    expect(new Set(settled.map((s) => s.t)).size).toBe(labels.length);
    expect(await blocks(server)).toEqual([...labels].sort());
    const facts = await server.facts();
    expect(replicaFacts(a)).toEqual(facts);
    expect(replicaFacts(b)).toEqual(facts);
    expect(Math.max(...settled.map((s) => s.t))).toBe(TX0 + labels.length);
    expect(a.stats.closeCodes).toContain(1006);
    await server.kill();
  });

  test("SIGTERM: close 1012, reconnect, resume from since with catch-up txs (no snapshot)", async () => {
    const server = await new ServerProcess().start();
    const a = client(server.url, "alice");
    const b = client(server.url, "bob");
    clients.push(a, b);
    await Promise.all([a.whenLive(), b.whenLive()]);
    await a.transact(block("before"));
    await waitFor("bob has it", () => b.t === a.t);
    const tBefore = b.t;
    const statuses: string[] = [];
    b.on("status", (s) => statuses.push(s));
    await server.kill("SIGTERM");
    // Then 1006s while the server is down (connection refused), until it is back.
    expect(a.stats.closeCodes[0]).toBe(1012);
    expect(b.stats.closeCodes[0]).toBe(1012);
    // Alice writes while the server is down: queued, in order.
    const queued = [a.transact(block("during-1")), a.transact(block("during-2"))];
    await server.start();
    await Promise.all(queued);
    await waitFor("bob caught up", () => b.t === a.t && b.status === "live");
    expect(b.stats.lastSince).toBe(tBefore);
    expect(b.stats.snapshots).toBe(1); // only the first connect's
    expect(b.stats.catchUpTxs + b.stats.liveTxs).toBeGreaterThanOrEqual(3);
    expect(statuses).toEqual(expect.arrayContaining(["offline", "connecting", "catching-up", "live"]));
    expect(statuses.indexOf("offline")).toBeLessThan(statuses.lastIndexOf("live"));
    expect(replicaFacts(b)).toEqual(await server.facts());
    await server.kill();
  });

  test("too far behind: the server sends a snapshot, which replaces the replica (a retraction it missed is gone)", async () => {
    const server = await new ServerProcess(undefined, { SYNC_SNAPSHOT_EVERY: "5", SYNC_LOG_RETAIN: "2" }).start();
    const persist = memoryPersistence();
    const a1 = client(server.url, "alice", { persist });
    const b = client(server.url, "bob");
    clients.push(a1, b);
    await Promise.all([a1.whenLive(), b.whenLive()]);
    await b.transact(block("doomed"));
    await waitFor("alice has doomed", () => a1.q('[:find ?e . :where [?e "block/uid" "doomed"]]') !== null);
    a1.close();
    const tLeft = persist.state.t || a1.t;
    await waitFor("alice's replica persisted", () => persist.state.t === a1.t);
    await b.transact([[":db/retractEntity", ["block/uid", "doomed"]]]);
    for (let i = 0; i < 20; i++) await b.transact(block(`later-${i}`));
    const a2 = client(server.url, "alice", { persist });
    clients.push(a2);
    await a2.whenLive();
    expect(a2.stats.lastSince).toBe(tLeft);
    expect(a2.stats.snapshots).toBe(1);
    expect(a2.stats.catchUpTxs).toBe(0);
    expect(a2.q('[:find ?e . :where [?e "block/uid" "doomed"]]')).toBeNull();
    expect(replicaFacts(a2)).toEqual(await server.facts());
    await server.kill();
  });

  test("a queue persisted while the server was down is sent by the next client (a reload)", async () => {
    const server = await new ServerProcess().start();
    const persist = memoryPersistence();
    const a1 = await stranded(server, "alice", { persist });
    clients.push(a1);
    const made = [a1.transact(block("q-1")), a1.transact(block("q-2")), a1.transact(block("q-3"))];
    await waitFor("queue persisted", () => persist.state.outbox.size === 3);
    a1.close();
    await Promise.all(made.map((p) => expect(p).rejects.toMatchObject({ code: "closed" })));
    await server.start();
    const a2 = client(server.url, "alice", { persist });
    clients.push(a2);
    await a2.whenLive();
    await waitFor("queue drained", () => a2.pending === 0 && persist.state.outbox.size === 0);
    await waitFor("replica has them", () => a2.q<string[][]>('[:find ?u :where [?e "block/uid" ?u]]').length === 3);
    expect(await blocks(server)).toEqual(["q-1", "q-2", "q-3"]);
    // In order: t follows the order they were made.
    const t = (uid: string) => a2.q<number>(`[:find ?t . :where [?e "block/uid" "${uid}" ?t]]`);
    expect(t("q-1")).toBeLessThan(t("q-2"));
    expect(t("q-2")).toBeLessThan(t("q-3"));
    await server.kill();
  });
});
