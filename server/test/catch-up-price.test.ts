import { LOG_CATCH_UP_ALWAYS_BYTES, LogBytes } from "../src/sync/log-bytes";
import { Client, clientView, startServer } from "./helpers";

/**
 * A hello with `since` at the log's floor made the server read, parse and encode the
 * whole retained log for that one client, however small the db: 50 such hellos over 10 MB
 * of log cost 18.7 s of CPU and 516 MB sent, against 40 ms and 3 MB from the shared
 * snapshot frames (a hostile review). The log path is now taken only while the log after
 * `since` is no bigger than the db (or under LOG_CATCH_UP_ALWAYS_BYTES).
 */
describe("a catch-up is priced before it starts", () => {
  test("far behind on a long log of a small db: the shared snapshot, not the log; a few behind: the log", async () => {
    const ctx = await startServer(undefined, { SYNC_SNAPSHOT_EVERY: "100000" });
    try {
      const writer = await Client.connect(ctx.url, "writer");
      const first = await writer.transact("create", [{ "block/uid": "b", "block/string": "" }]);
      const text = "x".repeat(2000);
      // ~600 KB of log (each edit logs its retraction and its new value), a db of one block.
      for (let i = 0; i < 150; i++) writer.send({ type: "transact", id: `e${i}`, tx: [[":db/add", ["block/uid", "b"], "block/string", `${i}${text}`]] });
      const last = await writer.next((m) => m.type === "ack" && m.id === "e149", 30_000);
      expect(last.t - first.t).toBe(150);

      const far = await Client.connect(ctx.url, "far", { since: first.t });
      const farBytes = far.frames.reduce((n, f) => n + JSON.stringify(f).length, 0);
      expect(far.frames.some((f) => f.type === "snapshot")).toBe(true);
      expect(far.frames.some((f) => f.type === "txs")).toBe(false);
      expect(farBytes).toBeLessThan(20_000); // the log after first.t is over 600,000
      expect(LOG_CATCH_UP_ALWAYS_BYTES).toBeLessThan(600_000);

      const near = await Client.connect(ctx.url, "near", { since: last.t - 3 });
      expect(near.frames.some((f) => f.type === "snapshot")).toBe(false);
      expect(near.messages.filter((m) => m.type === "tx").map((m) => m.t)).toEqual([last.t - 2, last.t - 1, last.t]);

      // Either way the client ends with the same db.
      const fresh = await Client.connect(ctx.url, "fresh");
      expect(clientView(far.messages)).toEqual(clientView(fresh.messages));
      await Promise.all([writer, far, near, fresh].map((c) => c.close()));
    } finally {
      await ctx.server.stop();
    }
  });
});

describe("LogBytes", () => {
  test("bytes after a t, within the window; null before it or past the newest", () => {
    const log = new LogBytes(4);
    log.reset(100);
    expect(log.bytesAfter(100)).toBe(0);
    log.record(101, 10);
    log.record(102, 20);
    log.record(103, 30);
    expect(log.bytesAfter(100)).toBe(60);
    expect(log.bytesAfter(102)).toBe(30);
    expect(log.bytesAfter(103)).toBe(0);
    expect(log.bytesAfter(104)).toBeNull();
    log.record(104, 40); // the window holds 4 totals: 101-104
    expect(log.bytesAfter(100)).toBeNull();
    expect(log.bytesAfter(101)).toBe(90);
  });

  test("a t that does not follow the last starts over", () => {
    const log = new LogBytes(8);
    log.reset(10);
    log.record(11, 5);
    log.record(20, 7);
    expect(log.bytesAfter(11)).toBeNull();
    expect(log.bytesAfter(19)).toBe(7);
  });
});
