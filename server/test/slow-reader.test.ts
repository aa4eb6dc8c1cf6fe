import fs from "node:fs";
import WebSocket from "ws";
import { Client, exited, type Msg, spawnServer, startServer, tmpDir } from "./helpers";

/** Resident memory of a process, from /proc (Linux). */
function rssBytes(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) * 1024 : 0;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const TOTAL = 20_000;
const WRITERS = 4;
const IN_FLIGHT = 8;
const SLOW = 16;
const CONTROL = 4000;
/** About 1 KB per transaction: 20,000 of them are ~22 MB per client that never reads. */
const TEXT = "x".repeat(1000);

/**
 * Commits `count` transactions from the writers (IN_FLIGHT each), returning each ack's latency.
 * Every writer also checks it received every other writer's transaction.
 */
async function writeMany(writers: Client[], prefix: string, count: number): Promise<number[]> {
  const latencies: number[] = [];
  const per = Math.ceil(count / writers.length);
  await Promise.all(
    writers.map(
      (w, i) =>
        new Promise<void>((resolve, reject) => {
          let sent = 0;
          let acked = 0;
          const started = new Map<string, number>();
          const sendOne = () => {
            const id = `${prefix}-${i}-${sent++}`;
            started.set(id, performance.now());
            w.send({ type: "transact", id, tx: [{ "block/uid": id, "block/string": TEXT }] });
          };
          const onMessage = (data: WebSocket.RawData) => {
            const text = data.toString();
            if (!text.startsWith('{"type":"ack"') && !text.startsWith('{"type":"rejected"')) return;
            const msg = JSON.parse(text) as Msg;
            if (msg.type === "rejected") return reject(new Error(`${msg.code}: ${msg.message}`));
            latencies.push(performance.now() - started.get(msg.id)!);
            if (++acked === per) {
              w.ws.off("message", onMessage);
              resolve();
            } else if (sent < per) sendOne();
          };
          w.ws.on("message", onMessage);
          for (let k = 0; k < Math.min(IN_FLIGHT, per); k++) sendOne();
        }),
    ),
  );
  return latencies;
}

describe("a client that stops reading", () => {
  test(`is closed with 1013 while others commit ${TOTAL} transactions; server RSS stays bounded and others' acks do not slow down`, async () => {
    // No heartbeat (it would also end a paused client, given time) and no periodic snapshot
    // during the run: this measures send buffers, and a snapshot of a
    // growing db (tested in snapshot-join.test.ts) would add its own transient memory.
    const { child, port, output } = await spawnServer(tmpDir(), { SYNC_RATE_LIMIT: "100000", SYNC_MAX_BUFFERED_BYTES: "1MiB", SYNC_LOG_LEVEL: "info", SYNC_SNAPSHOT_EVERY: "1000000", SYNC_HEARTBEAT: "10m" });
    const url = `ws://127.0.0.1:${port}/ws`;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(child.pid!))), 50);
    try {
      const writers = await Promise.all(Array.from({ length: WRITERS }, (_, i) => Client.connect(url, `writer-${i}`)));
      const slow = await Promise.all(Array.from({ length: SLOW }, (_, i) => Client.connect(url, `slow-${i}`)));
      // Control: the same load while every client reads.
      const idle = await writeMany(writers, "control", CONTROL);
      const baseline = rssBytes(child.pid!);
      peak = baseline;

      // Stop reading the TCP stream: the kernel buffers fill, then the server's own.
      for (const s of slow) (s.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      // Once the server has given up on a slow client (it logs that with the session),
      // that client reads again: it drains what was queued and then finds the close frame.
      const resumed = new Set<Client>();
      const watcher = setInterval(() => {
        const full = output()
          .split("\n")
          .filter((line) => line.includes("send buffer full; closing"));
        for (const s of slow) {
          const session = s.messages[0]!.session as string;
          if (!resumed.has(s) && full.some((line) => line.includes(session))) {
            resumed.add(s);
            (s.ws as unknown as { _socket: { resume(): void } })._socket.resume();
          }
        }
      }, 100);
      const loaded = await writeMany(writers, "load", TOTAL);
      const growth = peak - baseline;
      console.log(`slow readers: RSS baseline ${(baseline / 2 ** 20).toFixed(0)} MiB, peak +${(growth / 2 ** 20).toFixed(0)} MiB`);
      // 16 clients x ~22 MB would be ~350 MB held for them; the cap holds it to 16 x 1 MiB.
      // The rest of the margin is the db itself growing by 20 MB and garbage not yet collected.
      expect(growth).toBeLessThan(250 * 2 ** 20);
      const closes = await Promise.race([Promise.all(slow.map((s) => s.closed)), new Promise<never>((_, reject) => setTimeout(() => reject(new Error("slow clients were never closed")), 40_000))]);
      clearInterval(sampler);
      clearInterval(watcher);

      const p99 = { idle: percentile(idle, 99), loaded: percentile(loaded, 99) };
      console.log(`slow readers: ack p99 idle ${p99.idle.toFixed(1)} ms, loaded ${p99.loaded.toFixed(1)} ms`);
      for (const c of closes) {
        expect(c.code).toBe(1013);
        expect(c.reason).toMatch(/slow reader/);
      }
      // Generous: the machine is shared. Unbounded buffering shows as GC pauses of seconds.
      expect(p99.loaded).toBeLessThan(2 * p99.idle + 100);

      // Every writer received every transaction, and a slow client resumes with since and misses nothing.
      const uids = (c: Client) => new Set(c.messages.filter((m) => m.type === "tx").flatMap((m) => m.datoms.filter((d: unknown[]) => d[1] === "block/uid").map((d: unknown[]) => d[2])));
      // (A writer's last ack can precede the broadcast of another writer's last group: wait for it.)
      for (const w of writers) {
        for (let i = 0; i < 300 && uids(w).size < CONTROL + TOTAL; i++) await new Promise((r) => setTimeout(r, 100));
        expect(uids(w).size).toBe(CONTROL + TOTAL);
      }
      const lastT = Math.max(...slow[0]!.messages.filter((m) => m.type === "tx").map((m) => m.t as number));
      const back = await Client.connect(url, "slow-0", { since: lastT });
      const missed = back.messages.filter((m) => m.type === "tx");
      expect(missed.length + uids(slow[0]!).size).toBe(CONTROL + TOTAL);
      await Promise.all([...writers, back].map((c) => c.close()));
    } finally {
      clearInterval(sampler);
      child.kill("SIGTERM");
      await exited(child);
    }
  }, 400_000);
});

describe("liveness", () => {
  test("unsolicited pongs do not keep a client that stopped reading alive", async () => {
    const ctx = await startServer(undefined, { SYNC_HEARTBEAT: "150ms" });
    try {
      const live = await Client.connect(ctx.url, "live");
      const zombie = await Client.connect(ctx.url, "zombie");
      // From here on it never answers a ping (ws reads this flag per ping).
      (zombie.ws as unknown as { _autoPong: boolean })._autoPong = false;
      // Pongs the server never asked for, as fast as the heartbeat and faster.
      const forge = setInterval(() => zombie.ws.readyState === WebSocket.OPEN && zombie.ws.pong(Buffer.from("alive")), 30);
      try {
        const started = Date.now();
        const closed = await Promise.race([zombie.closed, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
        expect(closed).not.toBeNull();
        expect(Date.now() - started).toBeLessThan(5000);
      } finally {
        clearInterval(forge);
      }
      // A client that answers pings (ws echoes the payload) stays through many heartbeats.
      expect(live.ws.readyState).toBe(WebSocket.OPEN);
      await live.close();
    } finally {
      await ctx.server.stop();
    }
  });
});
