/**
 * Snapshot joins: seed a db with `datoms` datoms, then have one writer commit small
 * transactions one at a time while 5 clients join at once with no `since` (each needs
 * the whole db). Reports the writer's ack latency before and during the joins.
 */
import WebSocket from "ws";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

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

async function steady(writer: Peer, prefix: string, ms: number): Promise<number[]> {
  const latencies: number[] = [];
  const end = Date.now() + ms;
  for (let i = 0; Date.now() < end; i++) {
    const t0 = performance.now();
    const reply = await writer.transact(`${prefix}-${i}`, [{ "block/uid": `${prefix}-${i}`, "block/string": "steady" }]);
    if (reply.type !== "ack") throw new Error(JSON.stringify(reply));
    latencies.push(performance.now() - t0);
  }
  return latencies;
}

export async function runJoins(url: string, datoms: number, protocol: number) {
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
  const writer = new Peer(url, "writer", protocol);
  await writer.synced;
  const idle = await steady(writer, "idle", 3000);
  const busyRun = steady(writer, "busy", 5000);
  await new Promise((r) => setTimeout(r, 300));
  const joinStarted = performance.now();
  const joiners = Array.from({ length: 5 }, (_, i) => new Peer(url, `joiner-${i}`, protocol));
  await Promise.all(joiners.map((j) => j.synced));
  const joinMs = performance.now() - joinStarted;
  const busy = await busyRun;
  for (const p of [writer, ...joiners]) p.ws.terminate();
  return {
    datoms: blocks * 3,
    seedSeconds,
    joinMs,
    snapshotFrames: joiners[0]!.snapshotFrames,
    snapshotDatoms: joiners[0]!.snapshotDatoms,
    idle: { p50: percentile(idle, 50), p99: percentile(idle, 99), max: Math.max(...idle) },
    busy: { p50: percentile(busy, 50), p99: percentile(busy, 99), max: Math.max(...busy) },
  };
}
