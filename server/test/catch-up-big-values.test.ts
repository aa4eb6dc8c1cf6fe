import fs from "node:fs";
import { Client, exited, spawnServer, tmpDir } from "./helpers";

/**
 * A joiner's log catch-up reads LOG_BYTES_PER_TURN (16 KiB) of datoms per turn, by the log
 * rows' own text. It used to estimate an entry as 64 + 48 bytes per datom, whatever the
 * values held (found in review). A value may be 256K characters (validate.ts MAX_STRING),
 * so one "16 KiB" batch of big transactions was tens of MB: parsed, re-encoded as txs
 * frames in one synchronous step, and held in the pump's queue until the client read it.
 * A client that joined with an old `since` and stopped reading pinned that whole batch
 * (8 of them: +433-484 MiB), and each join held other clients' acks for 1.3-1.9 s.
 * Everything here is within the default limits (frame 1 MiB, 64 MiB/min per connection).
 */

function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

const BIG_TXS = 60;
/** Four 250K-character values: a ~1 MB transact frame, under the default 1 MiB limit. */
const BIG = "y".repeat(250_000);
const JOINERS = 8;

describe("catch-up batches are sized by bytes, not datoms", () => {
  test("joiners that stop reading hold little server memory each, and another client's acks do not wait behind their catch-up", async () => {
    const dataDir = tmpDir();
    const { child, port } = await spawnServer(dataDir, { SYNC_LOG_LEVEL: "info" });
    const url = `ws://127.0.0.1:${port}/ws`;
    try {
      const probe = await Client.connect(url, "probe");
      const t0 = probe.messages.find((m) => m.type === "welcome")!.t as number;
      // Three writers stay under the default 64 MiB per minute per connection.
      const writers = await Promise.all([0, 1, 2].map((i) => Client.connect(url, `writer-${i}`)));
      for (let i = 0; i < BIG_TXS; i++) {
        const w = writers[i % writers.length]!;
        const ack = await w.transact(`big-${i}`, [{ "block/uid": `big-${i}`, "block/string": BIG, "block/text-align": BIG, "edit/auth": BIG, "create/auth": BIG }]);
        expect(ack.type).toBe("ack");
      }
      await Promise.all(writers.map((w) => w.close()));
      await new Promise((r) => setTimeout(r, 1000));
      const baseline = rssBytes(child.pid!);
      const idleStarted = performance.now();
      expect((await probe.transact("probe-idle", [{ "block/uid": "probe-idle", "block/string": "x" }])).type).toBe("ack");
      const idleAck = performance.now() - idleStarted;

      // Joiners that ask for the log after t0, then stop reading their socket.
      const joiners: Client[] = [];
      const joinAcks: number[] = [];
      for (let j = 0; j < JOINERS; j++) {
        const c = new Client(url);
        await c.opened;
        (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
        c.send({ type: "hello", protocol: 4, name: `joiner-${j}`, since: t0 });
        joiners.push(c);
        // Another client's transaction, acked while this joiner's first batch is read and encoded.
        const started = performance.now();
        const ack = await probe.transact(`probe-${j}`, [{ "block/uid": `probe-${j}`, "block/string": "x" }]);
        expect(ack.type).toBe("ack");
        joinAcks.push(performance.now() - started);
      }
      await new Promise((r) => setTimeout(r, 2000));
      const growth = rssBytes(child.pid!) - baseline;
      const sorted = [...joinAcks].sort((a, b) => a - b);
      const worstAck = sorted[sorted.length - 1]!;
      const medianAck = sorted[Math.floor(sorted.length / 2)]!;
      console.log(`catch-up of big values: ${JOINERS} paused joiners, server RSS ${(baseline / 2 ** 20).toFixed(0)} MiB +${(growth / 2 ** 20).toFixed(0)} MiB; probe ack idle ${idleAck.toFixed(0)} ms, during joins median ${medianAck.toFixed(0)} ms, slowest ${worstAck.toFixed(0)} ms`);
      // Bounded catch-up: each joiner may hold about SYNC_MAX_BUFFERED_BYTES (4 MiB) plus a
      // frame or two; 8 of them with slack for the kernel and garbage: 150 MiB.
      expect(growth).toBeLessThan(150 * 2 ** 20);
      // A small tx of another client should not wait behind a joiner's catch-up for long: a
      // batch is now one ~1 MB entry (worst ack 211 ms on a busy machine; 1.3-1.9 s before,
      // at every join). Typical acks decide; the worst gets room for one scheduling or GC
      // pause on a shared CI machine.
      expect(medianAck).toBeLessThan(600);
      expect(worstAck).toBeLessThan(1500);
      for (const c of joiners) c.ws.terminate();
      await probe.close();
    } finally {
      child.kill("SIGTERM");
      await exited(child);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
