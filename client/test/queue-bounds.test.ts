import { type SyncClient, memoryPersistence } from "../src";
import { utf8Length } from "../src/client";
import { ServerProcess, client, prng, stranded, waitFor } from "./harness";

/**
 * The offline queue is bounded: an app that keeps writing through a long outage (or a
 * loop gone wrong) gets `queue_full` at once instead of a client that grows until the tab
 * dies. Everything accepted before the bound is still delivered, in order, once the
 * server is back.
 */
const block = (uid: string, text = uid) => [{ ":db/id": -1, "block/uid": uid, "block/string": text }];

describe("the queue of unacked transactions is bounded (real server process)", () => {
  const clients: SyncClient[] = [];
  afterEach(() => clients.splice(0).forEach((c) => c.close()));

  test("past maxQueuedTransactions, transact() rejects with queue_full; the queued ones are delivered after the outage", async () => {
    const server = await new ServerProcess().start();
    const a = await stranded(server, "alice", { maxQueuedTransactions: 3 });
    clients.push(a);
    const queued = [a.transact(block("q-1")), a.transact(block("q-2")), a.transact(block("q-3"))];
    await expect(a.transact(block("q-4"))).rejects.toMatchObject({ code: "queue_full", message: expect.stringContaining("maxQueuedTransactions 3") });
    expect(a.pending).toBe(3);
    await server.start();
    const acks = await Promise.all(queued);
    expect(acks.map((ack) => ack.t)).toEqual([...acks.map((ack) => ack.t)].sort((x, y) => x - y));
    // Room again once they settled.
    await expect(a.transact(block("q-5"))).resolves.toMatchObject({ t: acks[2]!.t + 1 });
    expect(a.pending).toBe(0);
    await server.kill();
  });

  test("maxQueuedBytes counts UTF-8 bytes: text that fits in UTF-16 units but not in bytes is refused", async () => {
    const server = await new ServerProcess().start();
    // 600 × "é" is 600 UTF-16 units but 1,200 bytes: one such transaction fits in 1,500 bytes, two do not.
    const a = await stranded(server, "alice", { maxQueuedBytes: 1_500 });
    clients.push(a);
    const first = a.transact(block("b-1", "é".repeat(600)));
    await expect(a.transact(block("b-2", "é".repeat(600)))).rejects.toMatchObject({ code: "queue_full", message: expect.stringContaining("maxQueuedBytes 1500") });
    // Something small still fits beside it.
    const small = a.transact(block("b-3"));
    expect(a.pending).toBe(2);
    await server.start();
    await expect(Promise.all([first, small])).resolves.toHaveLength(2);
    await server.kill();
  });

  test("transactions reloaded from persistence count against the bound", async () => {
    const server = await new ServerProcess().start();
    const persist = memoryPersistence();
    const a1 = await stranded(server, "alice", { persist });
    clients.push(a1);
    const made = [a1.transact(block("r-1")), a1.transact(block("r-2"))];
    await waitFor("queue persisted", () => persist.state.outbox.size === 2);
    a1.close();
    await Promise.all(made.map((p) => expect(p).rejects.toMatchObject({ code: "closed" })));
    // The next page load, still offline, with a bound of 2: the reloaded two fill it.
    const a2 = client(server.url, "alice", { persist, maxQueuedTransactions: 2 });
    clients.push(a2);
    await waitFor("reloaded", () => a2.pending === 2);
    await expect(a2.transact(block("r-3"))).rejects.toMatchObject({ code: "queue_full" });
    await server.start();
    await waitFor("queue drained", () => a2.pending === 0 && persist.state.outbox.size === 0);
    await expect(a2.transact(block("r-4"))).resolves.toMatchObject({ t: expect.any(Number) });
    await server.kill();
  });

  test("tx-data that cannot be serialized is refused at once and never enters the queue", async () => {
    const server = await new ServerProcess().start();
    const a = client(server.url, "alice");
    clients.push(a);
    await a.whenLive();
    const cyclic: Record<string, unknown> = { ":db/id": -1, "block/uid": "c" };
    cyclic.self = cyclic;
    await expect(a.transact([cyclic])).rejects.toMatchObject({ code: "invalid_tx" });
    await expect(a.transact([{ ":db/id": -1, "block/uid": "n", "block/order": 1n }])).rejects.toMatchObject({ code: "invalid_tx" });
    expect(a.pending).toBe(0);
    // The connection is unharmed.
    await expect(a.transact(block("after"))).resolves.toMatchObject({ t: expect.any(Number) });
    await server.kill();
  });
});

describe("utf8Length", () => {
  test("equals Buffer.byteLength for random text, lone surrogates included", () => {
    const random = prng(13);
    const pick = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xffff];
    for (let run = 0; run < 2_000; run++) {
      const units: number[] = [];
      const n = Math.floor(random() * 12);
      for (let i = 0; i < n; i++) units.push(random() < 0.5 ? pick[Math.floor(random() * pick.length)]! : Math.floor(random() * 0x10000));
      const text = String.fromCharCode(...units);
      expect([text, utf8Length(text)]).toEqual([text, Buffer.byteLength(text, "utf8")]);
    }
  });
});
