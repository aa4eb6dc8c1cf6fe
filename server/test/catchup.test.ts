import { Client, clientView, startServer } from "./helpers";

async function write(client: Client, from: number, count: number) {
  const acks = [];
  for (let i = from; i < from + count; i++) acks.push(await client.transact(`w${i}`, [{ "block/uid": `u${i}`, "block/string": `v${i}` }]));
  return acks;
}

describe("reconnect and catch-up", () => {
  test("a client reconnecting with since receives exactly the transactions it missed", async () => {
    const { server, url } = await startServer();
    try {
      const writer = await Client.connect(url, "writer");
      const reader = await Client.connect(url, "reader");
      const first = await write(writer, 0, 5);
      await reader.next((m) => m.type === "tx" && m.t === first[4]!.t);
      const seen = clientView(reader.messages);
      await reader.close();

      const missed = await write(writer, 5, 7);
      const back = await Client.connect(url, "reader", { since: first[4]!.t });
      const txs = back.messages.filter((m) => m.type === "tx");
      expect(txs.map((m) => m.t)).toEqual(missed.map((a) => a.t));
      expect(back.messages.some((m) => m.type === "snapshot")).toBe(false);
      expect(back.messages.find((m) => m.type === "synced")).toEqual({ type: "synced", t: missed[6]!.t });

      // Live after catch-up, with no gap and no duplicate.
      const live = await write(writer, 12, 3);
      await back.next((m) => m.type === "tx" && m.t === live[2]!.t);
      const ts = back.messages.filter((m) => m.type === "tx").map((m) => m.t);
      expect(ts).toEqual([...missed, ...live].map((a) => a.t));
      expect(clientView([...reader.messages, ...back.messages])).toEqual(clientView(writer.messages));
      expect(seen.length).toBe(10);
      await Promise.all([writer.close(), back.close()]);
    } finally {
      await server.stop();
    }
  });

  test("a client too far behind, or new, gets a snapshot and then live transactions", async () => {
    // Snapshot every 5 tx and keep only 2 tx behind it: the log forgets quickly.
    const { server, url } = await startServer(undefined, { SYNC_SNAPSHOT_EVERY: "5", SYNC_LOG_RETAIN: "2" });
    try {
      const writer = await Client.connect(url, "writer");
      const early = await write(writer, 0, 1);
      await write(writer, 1, 20);
      // Snapshots are written off the event loop now: wait until one has pruned the log past early.
      for (let i = 0; i < 200 && server.sync.logFloor() <= early[0]!.t; i++) await new Promise((r) => setTimeout(r, 50));
      expect(server.sync.logFloor()).toBeGreaterThan(early[0]!.t);
      const behind = await Client.connect(url, "reader", { since: early[0]!.t });
      // The snapshot comes from the shared cache, maybe a few tx old; the log after it follows.
      const snapshot = behind.messages.find((m) => m.type === "snapshot")!;
      expect(snapshot.t).toBeLessThanOrEqual(server.sync.t);
      expect(behind.messages.find((m) => m.type === "synced")!.t).toBe(server.sync.t);
      const fresh = await Client.connect(url, "newcomer");
      expect(fresh.messages.find((m) => m.type === "snapshot")!.t).toBeLessThanOrEqual(server.sync.t);
      expect(clientView(fresh.messages)).toEqual(clientView(writer.messages));

      const syncedAt = behind.messages.findIndex((m) => m.type === "synced");
      const live = await write(writer, 21, 2);
      await behind.next((m) => m.type === "tx" && m.t === live[1]!.t);
      expect(behind.messages.slice(syncedAt).filter((m) => m.type === "tx").map((m) => m.t)).toEqual(live.map((a) => a.t));
      expect(clientView(behind.messages)).toEqual(clientView(writer.messages));
      await Promise.all([writer.close(), behind.close(), fresh.close()]);
    } finally {
      await server.stop();
    }
  });

  test("a since from the future (another server's db) gets a snapshot", async () => {
    const { server, url } = await startServer();
    try {
      const c = await Client.connect(url, "x", { since: 999_999_999_999 });
      expect(c.messages.map((m) => m.type).filter((type) => type !== "presence")).toEqual(["welcome", "snapshot", "synced"]);
      await c.close();
    } finally {
      await server.stop();
    }
  });
});
