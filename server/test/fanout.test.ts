import * as fanout from "../src/sync/fanout";
import { decodeTxsFrame, type WireDatom } from "../../protocol/src";
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
        const ts = frames.flatMap((f) => decodeTxsFrame(f).map((tx) => tx.t));
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

  test("a writer's ack leaves with the flush's first write, not after every other client's", async () => {
    const { server, url } = await startServer(undefined, { SYNC_RATE_LIMIT: "10000", SYNC_MAX_CONNECTIONS_PER_IP: "1000" });
    try {
      const readers: Client[] = [];
      for (let i = 0; i < 10; i++) readers.push(...(await Promise.all(Array.from({ length: 20 }, (_, j) => Client.connect(url, `reader-${i * 20 + j}`)))));
      // Connected last, so last in the server's order of connections.
      const writer = await Client.connect(url, "writer");
      const order: string[] = [];
      for (const r of readers) r.ws.on("message", (data) => String(data).startsWith('{"type":"txs"') && order.push("reader"));
      writer.ws.on("message", (data) => String(data).startsWith('{"type":"ack"') && order.push("writer"));
      // A quiet spell: the group flushes at once, in the tick that acks it.
      await new Promise((r) => setTimeout(r, 300));
      expect((await writer.transact("first", [{ "block/uid": "u", "block/string": "x" }])).type).toBe("ack");
      await Promise.all(readers.map((r) => r.next((m) => m.type === "tx")));
      expect(order).toHaveLength(readers.length + 1);
      // Before: the ack was held until the tick's end, behind all 200 readers' writes (index 200).
      expect(order.indexOf("writer")).toBeLessThan(readers.length / 4);
      await Promise.all([writer, ...readers].map((c) => c.close()));
    } finally {
      await server.stop();
    }
  }, 60_000);

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
    const ts = frames.flatMap((f) => decodeTxsFrame(JSON.parse(f.toString()) as Msg).map((tx) => tx.t));
    expect(ts).toEqual(entries.map((e) => e.t));
  });

  test("a txs frame carries each datom without its tx, and an edit without the retraction its assertion implies", () => {
    const t = 536870913;
    const entry = { t, clientId: "c", author: 'a "quoted" \u2028 author', txData: [], tempids: {}, txHash: "", time: 1732550400123,
      datoms: [[5, "block/string", "old", t, false], [5, "block/string", 'x"\n\u00e9', t, true], [5, "block/refs", 7, t, false], [5, "block/refs", 8, t, true], [6, "block/order", 1, t, false]] as WireDatom[] };
    const [frame] = fanout.encodeTxs([entry]).map((f) => JSON.parse(f.toString()) as Msg);
    // block/string is cardinality one: its old value goes with the new assertion. block/refs is many: both stay, as does a lone retraction.
    expect(decodeTxsFrame(frame!)).toEqual([{ t, author: entry.author, time: entry.time, datoms: [[5, "block/string", 'x"\n\u00e9'], [5, "block/refs", 7, false], [5, "block/refs", 8], [6, "block/order", 1, false]] }]);
    // Protocol 5's compact form: tables of authors and attributes, then author, dt, n and (e, attr, v) triples; e < 0 is a retraction.
    expect(frame).toEqual({ type: "txs", t, time: entry.time, authors: [entry.author], attrs: ["block/string", "block/refs", "block/order"],
      txs: [0, 0, 4, 5, 0, 'x"\n\u00e9', -5, 1, 7, 5, 1, 8, -6, 2, 1] });
  });

  test("a frame names each author and attribute once, counts t from its first transaction and times from its first time", () => {
    const t = 536870913;
    const entry = (i: number, author: string, datoms: WireDatom[]) => ({ t: t + i, clientId: `c${i}`, author, txData: [], tempids: {}, txHash: "", time: 1732550400000 + i * 7, datoms });
    const entries = [
      entry(0, "alice", [[1, "block/string", "a", t, true]]),
      entry(1, "bob", [[2, "block/string", "b", t + 1, true], [2, "block/order", 3, t + 1, true]]),
      entry(2, "alice", []),
      entry(3, "bob", [[1, "block/string", "a", t + 3, false]]),
    ];
    const [frame, more] = fanout.encodeTxs(entries).map((f) => JSON.parse(f.toString()) as Msg);
    expect(more).toBeUndefined();
    expect(frame).toEqual({ type: "txs", t, time: 1732550400000, authors: ["alice", "bob"], attrs: ["block/string", "block/order"],
      txs: [0, 0, 1, 1, 0, "a", 1, 7, 2, 2, 0, "b", 2, 1, 3, 0, 14, 0, 1, 21, 1, -1, 0, "a"] });
    expect(decodeTxsFrame(frame!).map((tx) => [tx.t, tx.author, tx.time, tx.datoms.length])).toEqual(entries.map((e) => [e.t, e.author, e.time, e.datoms.length]));
  });

  test("a break in t starts a new frame, so a frame's t counts every transaction it holds", () => {
    const entry = (t: number) => ({ t, clientId: `c${t}`, author: "a", txData: [], tempids: {}, txHash: "", time: 5, datoms: [[1, "block/order", t, t, true]] as WireDatom[] });
    const frames = fanout.encodeTxs([entry(10), entry(11), entry(13), entry(14)]).map((f) => JSON.parse(f.toString()) as Msg);
    expect(frames.map((f) => decodeTxsFrame(f).map((tx) => tx.t))).toEqual([[10, 11], [13, 14]]);
  });
});

async function groupCount(server: { metrics: { groupSize: { get(): Promise<{ values: Array<{ metricName?: string; value: number }> }> } } }): Promise<number> {
  const { values } = await server.metrics.groupSize.get();
  return values.find((v) => v.metricName === "sync_commit_group_size_count")?.value ?? 0;
}
