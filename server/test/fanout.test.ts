import * as fanout from "../src/sync/fanout";
import type { WireDatom } from "../../protocol/src";
import { Client, type Msg, startServer } from "./helpers";

describe("batched fan-out", () => {
  test("a commit group reaches each client as one frame, encoded once for all of them", async () => {
    const { server, url } = await startServer(undefined, { SYNC_RATE_LIMIT: "10000" });
    const encodeTxs = jest.spyOn(fanout, "encodeTxs");
    try {
      const writer = await Client.connect(url, "writer");
      const readers = await Promise.all(Array.from({ length: 5 }, (_, i) => Client.connect(url, `reader-${i}`)));
      encodeTxs.mockClear();
      const groupsBefore = await groupCount(server);
      // 20 transactions written at once (one socket write) arrive in one read, so they commit as one group.
      const socket = (writer.ws as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
      socket.cork();
      for (let i = 0; i < 20; i++) writer.send({ type: "transact", id: `b${i}`, tx: [{ "block/uid": `u${i}`, "block/string": `text ${i}` }] });
      socket.uncork();
      const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => writer.next((m) => m.type === "ack" && m.id === `b${i}`)));
      const lastT = Math.max(...acks.map((a) => a.t as number));
      const groups = (await groupCount(server)) - groupsBefore;

      for (const reader of [writer, ...readers]) {
        await reader.next((m) => m.type === "tx" && m.t === lastT);
        const frames = reader.frames.filter((f) => f.type === "txs");
        const ts = frames.flatMap((f) => f.txs.map((tx: Msg) => tx.t));
        expect(ts).toEqual(acks.map((a) => a.t).sort((a, b) => a - b));
        // At most one frame per commit group (the fan-out's pacing may merge groups), not one per transaction.
        expect(frames.length).toBeLessThanOrEqual(groups);
      }
      expect(groups).toBeLessThanOrEqual(3);
      // Serialized once per flush, however many clients receive it.
      expect(encodeTxs.mock.calls.length).toBeLessThanOrEqual(groups);
      expect(encodeTxs.mock.calls.length).toBe(writer.frames.filter((f) => f.type === "txs").length);
      await Promise.all([writer, ...readers].map((c) => c.close()));
    } finally {
      encodeTxs.mockRestore();
      await server.stop();
    }
  });

  test("a large group is split into bounded frames that together carry every transaction in order", () => {
    const entries = Array.from({ length: 50 }, (_, i) => ({
      t: 536870913 + i,
      clientId: `c${i}`,
      author: "a",
      txData: [],
      datoms: [[1, "block/string", "y".repeat(20_000), 536870913 + i, true]] as [number, string, string, number, boolean][],
      tempids: {},
      txHash: "",
      time: 0,
    }));
    const frames = fanout.encodeTxs(entries, 100_000);
    expect(frames.length).toBeGreaterThan(5);
    for (const f of frames) expect(f.length).toBeLessThan(100_000 + 25_000);
    const ts = frames.flatMap((f) => (JSON.parse(f.toString()) as Msg).txs.map((tx: Msg) => tx.t));
    expect(ts).toEqual(entries.map((e) => e.t));
  });

  test("a txs frame carries each datom without its tx, and an edit without the retraction its assertion implies", () => {
    const t = 536870913;
    const entry = { t, clientId: "c", author: 'a "quoted" \u2028 author', txData: [], tempids: {}, txHash: "", time: 1732550400123,
      datoms: [[5, "block/string", "old", t, false], [5, "block/string", 'x"\n\u00e9', t, true], [5, "block/refs", 7, t, false], [5, "block/refs", 8, t, true], [6, "block/order", 1, t, false]] as WireDatom[] };
    const [frame] = fanout.encodeTxs([entry]).map((f) => JSON.parse(f.toString()) as Msg);
    // block/string is cardinality one: its old value goes with the new assertion. block/refs is many: both stay, as does a lone retraction.
    expect(frame).toEqual({ type: "txs", txs: [{ t, author: entry.author, time: entry.time, datoms: [[5, "block/string", 'x"\n\u00e9'], [5, "block/refs", 7, false], [5, "block/refs", 8], [6, "block/order", 1, false]] }] });
  });
});

async function groupCount(server: { metrics: { groupSize: { get(): Promise<{ values: Array<{ metricName?: string; value: number }> }> } } }): Promise<number> {
  const { values } = await server.metrics.groupSize.get();
  return values.find((v) => v.metricName === "sync_commit_group_size_count")?.value ?? 0;
}
