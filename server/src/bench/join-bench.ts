/**
 * Snapshot joins: seed a db with `datoms` datoms, then have one writer commit small
 * transactions one at a time while 5 clients join at once with no `since` (each needs
 * the whole db). Reports the writer's ack latency before and during the joins.
 *
 * The writer runs in a child process of its own (this file, forked with `writer`):
 * the joiners JSON.parse ~47 MB of snapshot frames each, and if the writer shared
 * their event loop, a parse would delay the ack it measures and the figure would be
 * the harness's, not the server's.
 */
import { fork } from "node:child_process";
import os from "node:os";
import WebSocket from "ws";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const stats = (v: number[]) => ({ n: v.length, p50: percentile(v, 50), p99: percentile(v, 99), max: Math.max(...v) });
/** Wall-clock ms comparable across processes (performance.now() is per process). */
const wallMs = () => performance.timeOrigin + performance.now();

class Peer {
  readonly ws: WebSocket;
  private waiters = new Map<string, (msg: { type: string; t?: number }) => void>();
  synced: Promise<void>;
  snapshotFrames = 0;
  snapshotDatoms = 0;

  constructor(url: string, name: string, protocol: number) {
    this.ws = new WebSocket(url, { maxPayload: 1024 ** 3 });
    this.synced = new Promise((resolve, reject) => {
      this.ws.once("error", reject);
      this.ws.once("open", () => this.ws.send(JSON.stringify({ type: "hello", protocol, name })));
      this.ws.on("message", (data: Buffer) => {
        const text = data.toString();
        if (text.startsWith('{"type":"snapshot"')) {
          this.snapshotFrames++;
          this.snapshotDatoms += (JSON.parse(text) as { datoms: unknown[] }).datoms.length;
        } else if (text.startsWith('{"type":"synced"')) resolve();
        else if (text.startsWith('{"type":"error"')) reject(new Error(`${name}: ${text}`)); // e.g. a protocol mismatch: fail, not hang
        else if (text.startsWith('{"type":"ack"') || text.startsWith('{"type":"rejected"')) {
          const msg = JSON.parse(text) as { type: string; id: string };
          this.waiters.get(msg.id)?.(msg);
          this.waiters.delete(msg.id);
        }
      });
    });
  }

  transact(id: string, tx: unknown[]): Promise<{ type: string; t?: number }> {
    return new Promise((resolve) => {
      this.waiters.set(id, resolve);
      this.ws.send(JSON.stringify({ type: "transact", id, tx }));
    });
  }
}

type FromWriter = { type: "idle"; latencies: number[] } | { type: "busy"; latencies: number[]; slowest: Array<[at: number, ms: number]> };

/**
 * The child: 3 s of acks idle (reported), then acks until the parent says `stop` (at
 * most 120 s), reported with the wall-clock send time of the slowest, to place them
 * against the joins.
 */
async function writerMain(url: string, protocol: number): Promise<void> {
  const writer = new Peer(url, "writer", protocol);
  await writer.synced;
  let stop = false;
  process.once("message", () => (stop = true));
  const run = async (prefix: string, until: () => boolean) => {
    const samples: Array<[number, number]> = [];
    for (let i = 0; !until(); i++) {
      const at = wallMs();
      const t0 = performance.now();
      const reply = await writer.transact(`${prefix}-${i}`, [{ "block/uid": `${prefix}-${i}`, "block/string": "steady" }]);
      if (reply.type !== "ack") throw new Error(JSON.stringify(reply));
      samples.push([at, performance.now() - t0]);
    }
    return samples;
  };
  const idleEnd = Date.now() + 3000;
  const idle = await run("idle", () => Date.now() >= idleEnd);
  process.send!({ type: "idle", latencies: idle.map((s) => s[1]) } satisfies FromWriter);
  const busyEnd = Date.now() + 120_000;
  const busy = await run("busy", () => stop || Date.now() >= busyEnd);
  const slowest = [...busy].sort((a, b) => b[1] - a[1]).slice(0, 10);
  process.send!({ type: "busy", latencies: busy.map((s) => s[1]), slowest } satisfies FromWriter, () => process.exit(0));
}

export async function runJoins(url: string, datoms: number, protocol: number, opts: { rss?: () => number } = {}) {
  const seeder = new Peer(url, "seeder", protocol);
  await seeder.synced;
  const blocks = Math.ceil(datoms / 3);
  const per = 3000;
  const seedStarted = performance.now();
  for (let from = 0; from < blocks; from += per) {
    const tx = Array.from({ length: Math.min(per, blocks - from) }, (_, k) => ({ "block/uid": `seed-${from + k}`, "block/string": `seeded block ${from + k}`, "block/order": from + k }));
    const reply = await seeder.transact(`seed-${from}`, tx);
    if (reply.type !== "ack") throw new Error(JSON.stringify(reply));
  }
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  seeder.ws.close();

  const child = fork(__filename, ["writer", url, String(protocol)], { stdio: "inherit" });
  const next = () =>
    new Promise<FromWriter>((resolve, reject) => {
      child.once("message", (m) => resolve(m as FromWriter));
      child.once("exit", (code) => reject(new Error(`writer exited with ${code}`)));
    });
  try {
    const idle = (await next()).latencies;
    const busyDone = next();
    // The writer is now in its busy phase; let it settle, then join 5 at once.
    await new Promise((r) => setTimeout(r, 300));
    let peakRss = opts.rss?.() ?? 0;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, opts.rss?.() ?? 0)), 100);
    // The joiners stand in for remote clients, but here they share the cores with the server:
    // at nice 10 their JSON.parse of every frame yields the CPU to the server and the writer.
    const priority = os.getPriority();
    os.setPriority(10);
    const joinStarted = performance.now();
    const joinWall = wallMs();
    const joiners = Array.from({ length: 5 }, (_, i) => new Peer(url, `joiner-${i}`, protocol));
    await Promise.all(joiners.map((j) => j.synced));
    const joinMs = performance.now() - joinStarted;
    try {
      os.setPriority(priority);
    } catch {
      // Raising it back needs privileges; unprivileged, the rest of the bench stays at nice 10.
    }
    // A little past the joins, so acks stalled by their tail are counted.
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(sampler);
    child.send("stop");
    const busy = (await busyDone) as Extract<FromWriter, { type: "busy" }>;
    for (const p of joiners) p.ws.terminate();
    return {
      datoms: blocks * 3,
      seedSeconds,
      joinMs,
      snapshotFrames: joiners[0]!.snapshotFrames,
      snapshotDatoms: joiners[0]!.snapshotDatoms,
      idle: stats(idle),
      busy: stats(busy.latencies),
      /** The 10 slowest acks during the joins: [ms after the joins began that it was sent, ms to ack]. */
      slowest: busy.slowest.map(([at, ms]) => [Math.round(at - joinWall), Math.round(ms)]),
      peakRssMiB: peakRss,
      /** When the joins began (epoch ms), to line them up with a server profile or GC trace. */
      joinStartedAt: joinWall,
    };
  } finally {
    child.kill();
  }
}

if (require.main === module && process.argv[2] === "writer") void writerMain(process.argv[3]!, Number(process.argv[4]));
