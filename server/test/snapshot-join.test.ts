import { PROTOCOL_VERSION } from "../../protocol/src";
import { Client, clientView, exited, type Msg, spawnServer, tmpDir } from "./helpers";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** ~30k datoms: the proportional case of the 1M-datom bench (`npm run bench`), small enough to seed on a shared machine. */
const BLOCKS = 10_000;
const PER_TX = 1000;

/** Writes one small transaction at a time for ms milliseconds; returns each ack's latency. */
async function steadyWriter(writer: Client, prefix: string, ms: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end; i++) {
    const started = performance.now();
    writer.send({ type: "transact", id: `${prefix}-${i}`, tx: [{ "block/uid": `${prefix}-${i}`, "block/string": "steady" }] });
    const reply = await writer.next((m) => m.id === `${prefix}-${i}`, 60_000);
    if (reply.type !== "ack") throw new Error(JSON.stringify(reply));
    latencies.push(performance.now() - started);
  }
  return latencies;
}

describe("snapshots off the hot path", () => {
  test("5 clients joining a 30k-datom db at once get one shared snapshot in bounded frames while another client writes", async () => {
    // A snapshot every 100 tx: the writer below crosses that several times while measuring.
    const { child, port } = await spawnServer(tmpDir(), { SYNC_SNAPSHOT_EVERY: "100", SYNC_LOG_RETAIN: "1000", SYNC_RATE_LIMIT: "100000", SYNC_MAX_TX_DATOMS: "10000" });
    const url = `ws://127.0.0.1:${port}/ws`;
    try {
      const seeder = await Client.connect(url, "seeder");
      for (let from = 0; from < BLOCKS; from += PER_TX) {
        const tx = Array.from({ length: Math.min(PER_TX, BLOCKS - from) }, (_, k) => ({ "block/uid": `seed-${from + k}`, "block/string": `seeded block ${from + k}`, "block/order": from + k }));
        seeder.send({ type: "transact", id: `seed-${from}`, tx });
        expect((await seeder.next((m) => m.id === `seed-${from}`, 120_000)).type).toBe("ack");
      }
      await seeder.close();
      const writer = await Client.connect(url, "writer");
      const idle = await steadyWriter(writer, "idle", 3000);

      const joining = steadyWriter(writer, "busy", 4000);
      await new Promise((r) => setTimeout(r, 300));
      const joinStarted = performance.now();
      const joiners = await Promise.all(
        Array.from({ length: 5 }, async (_, i) => {
          const j = new Client(url);
          await j.opened;
          j.send({ type: "hello", protocol: PROTOCOL_VERSION, name: `joiner-${i}` });
          await j.next((m) => m.type === "synced", 120_000);
          return j;
        }),
      );
      const joinMs = performance.now() - joinStarted;
      const busy = await joining;

      const p99 = { idle: percentile(idle, 99), busy: percentile(busy, 99) };
      console.log(`snapshot joins: 5 joins took ${joinMs.toFixed(0)} ms; writer ack p50 idle ${percentile(idle, 50).toFixed(1)} / busy ${percentile(busy, 50).toFixed(1)} ms, p99 idle ${p99.idle.toFixed(1)} / busy ${p99.busy.toFixed(1)} ms (${idle.length}/${busy.length} acks)`);
      // The writer's latency is logged, not asserted: it shares this process with the five
      // joiners parsing ~1 MB of snapshot each, and on a machine at load ~30 the neighbours
      // move p99 by seconds. What is asserted is the mechanism: bounded frames, shared (one
      // build for all joiners), correct. `npm run bench` measures latency at 1M datoms.

      // Each joiner got the snapshot in several bounded frames, shared (same t), and ends up
      // with exactly the writer's data.
      const ts = new Set<number>();
      for (const j of joiners) {
        const frames = j.frames.filter((f) => f.type === "snapshot");
        expect(frames.length).toBeGreaterThan(2);
        for (const f of frames) expect(JSON.stringify(f).length).toBeLessThan(400 * 1024);
        ts.add(frames[0]!.t);
        const last = await writer.transact("check", [{ "block/uid": "check" }]);
        await j.next((m: Msg) => m.type === "tx" && m.t === last.t, 60_000);
      }
      // Shared, not one dump per joiner: at most two builds for five joiners (a periodic
      // snapshot may land mid-join, and the joiners after it share the newer one).
      expect(ts.size).toBeLessThanOrEqual(2);
      const auditor = await Client.connect(url, "auditor");
      const truth = clientView(auditor.messages);
      expect(truth.length).toBeGreaterThan(BLOCKS * 3);
      for (const j of joiners) expect(clientView(j.messages)).toEqual(truth);
      await Promise.all([writer, auditor, ...joiners].map((c) => c.close()));
    } finally {
      child.kill("SIGTERM");
      await exited(child);
    }
  }, 300_000);
});
