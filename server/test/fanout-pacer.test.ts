import { FanoutPacer } from "../src/sync/fanout-pacer";
import type { LogEntry } from "../src/storage/store";
import { Client, type Msg, startServer } from "./helpers";
import { decodeTxsFrame } from "../../protocol/src";

const entry = (t: number): LogEntry => ({ t, clientId: `c${t}`, author: "a", txData: [], datoms: [], tempids: {}, txHash: "", time: 0 });

describe("fan-out pacing", () => {
  test("the first group after a quiet spell goes out at once; later ones within the window go out together, in order", async () => {
    let now = 1000;
    const sent: number[][] = [];
    const pacer = new FanoutPacer((es) => sent.push(es.map((e) => e.t)), () => 20, () => now);
    pacer.push([entry(1)]);
    expect(sent).toEqual([[1]]);
    now += 5;
    pacer.push([entry(2), entry(3)]);
    pacer.push([entry(4)]);
    expect(sent).toEqual([[1]]);
    expect(pacer.waiting).toBe(3);
    await new Promise((r) => setTimeout(r, 40));
    expect(sent).toEqual([[1], [2, 3, 4]]);
    // flush(): everything pending now, and nothing twice.
    now += 100;
    pacer.push([entry(5)]);
    now += 1;
    pacer.push([entry(6)]);
    pacer.flush();
    pacer.flush();
    expect(sent).toEqual([[1], [2, 3, 4], [5], [6]]);
    pacer.stop();
  });

  test("clients joining while transactions wait for the fan-out get every t exactly once, in order, whatever the window", async () => {
    const { server, url } = await startServer(undefined, { SYNC_RATE_LIMIT: "100000" });
    // A wide window makes the race real: groups wait up to 150 ms while clients turn live.
    (server as unknown as { fanout: { windowMs: () => number } }).fanout.windowMs = () => 150;
    try {
      const writers = await Promise.all([0, 1, 2].map((i) => Client.connect(url, `writer-${i}`)));
      let stop = false;
      let lastAck = 0;
      const writing = writers.map(async (w, i) => {
        // Bounded: at most 150 transactions per writer, one in flight at a time.
        for (let n = 0; n < 150 && !stop; n++) {
          const ack = await w.transact(`w${i}-${n}`, [{ "block/uid": `w${i}-${n}`, "block/string": `${n}` }]);
          expect(ack.type).toBe("ack");
          lastAck = Math.max(lastAck, ack.t as number);
        }
      });
      const joiners: Array<{ c: Client; since?: number }> = [];
      for (let j = 0; j < 24; j++) {
        await new Promise((r) => setTimeout(r, 15 + (j % 5) * 7));
        const since = j % 2 === 0 && lastAck > 0 ? lastAck - (j % 7) : undefined;
        joiners.push({ c: await Client.connect(url, `joiner-${j}`, since === undefined ? {} : { since }), since });
      }
      stop = true;
      await Promise.all(writing);
      for (const { c, since } of joiners) {
        // Caught up at synced; a joiner that turned live before the last ack then gets the rest live.
        const synced = await c.next((m) => m.type === "synced", 10_000);
        if (synced.t < lastAck) await c.next((m) => m.type === "tx" && m.t === lastAck, 10_000);
        const snapshotT = c.messages.find((m) => m.type === "snapshot")?.t as number | undefined;
        const ts = c.frames.filter((f) => f.type === "txs").flatMap((f) => decodeTxsFrame(f).map((tx) => tx.t));
        const from = (snapshotT ?? since!) + 1;
        expect(ts).toEqual(Array.from({ length: ts.length }, (_, k) => from + k));
        if (ts.length > 0) expect(ts.at(-1)).toBeGreaterThanOrEqual(lastAck);
      }
      await Promise.all([...writers, ...joiners.map((j) => j.c)].map((c) => c.close()));
    } finally {
      await server.stop();
    }
  }, 60_000);
});
