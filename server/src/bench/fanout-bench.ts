/**
 * Fan-out benchmark: C clients on one document, W of them writing small edits with
 * IN_FLIGHT outstanding each. Measures durable tx/s (acks come after fsync), ack
 * latency, and fan-out latency (writer's send to each client's receipt, over every
 * client and every edit), and checks that every client received every edit.
 * The server runs as its own process, so the harness does not share its event loop.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";

export interface FanoutResult {
  readonly clients: number;
  readonly writers: number;
  readonly tx: number;
  readonly seconds: number;
  readonly txPerSec: number;
  readonly ackP50: number;
  readonly ackP99: number;
  readonly fanoutP50: number;
  readonly fanoutP99: number;
  /** Clients that did not receive every edit (must be 0). */
  readonly incomplete: number;
  readonly serverRssMiB: number;
}

/** Latencies in 0.1 ms buckets up to 60 s: 20 M samples fit in a fixed array. */
class Histogram {
  private readonly buckets = new Uint32Array(600_000);
  count = 0;
  add(ms: number): void {
    this.buckets[Math.min(this.buckets.length - 1, Math.max(0, Math.round(ms * 10)))]!++;
    this.count++;
  }
  percentile(p: number): number {
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return i / 10;
    }
    return NaN;
  }
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  stop(): Promise<void>;
  rssMiB(): number;
  /** CPU seconds (user + system) the server process has used so far. */
  cpuSeconds(): number;
}

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
export function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of stat; fields[0] here is field 3.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Starts dist/server/src/main.js (or `main`) on a fresh data dir. */
export function spawnServer(main: string, env: Record<string, string>, nodeArgs: string[] = []): Promise<ServerProcess> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sync-bench-"));
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: {
      ...process.env,
      SYNC_DATA_DIR: dataDir,
      SYNC_PORT: "0",
      SYNC_HOST: "127.0.0.1",
      SYNC_INSECURE_NO_AUTH: "1",
      SYNC_BACKUP_INTERVAL: "0",
      SYNC_RATE_LIMIT: "1000000",
      SYNC_MAX_CONNECTIONS: "20000",
      SYNC_LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  return new Promise((resolve, reject) => {
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString();
      const match = /"msg":"listening"/.test(out) && /"port":(\d+)/.exec(out);
      if (match)
        resolve({
          child,
          port: Number(match[1]),
          cpuSeconds: () => cpuSeconds(child.pid!),
          rssMiB: () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024,
          stop: () =>
            new Promise<void>((done) => {
              child.once("exit", () => {
                fs.rmSync(dataDir, { recursive: true, force: true });
                done();
              });
              child.kill("SIGTERM");
            }),
        });
    });
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child.once("exit", (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

/** The uids of the edits in a `tx` (protocol 1) or `txs` (protocol 2) frame. */
function editUids(msg: { type: string; txs?: Array<{ datoms: unknown[][] }>; datoms?: unknown[][] }): string[] {
  const txs = msg.type === "txs" ? msg.txs! : msg.type === "tx" ? [msg as { datoms: unknown[][] }] : [];
  const uids: string[] = [];
  for (const tx of txs) for (const d of tx.datoms) if (d[1] === "block/uid") uids.push(d[2] as string);
  return uids;
}

export async function runFanout(url: string, clients: number, writers: number, total: number, opts: { inFlight?: number; protocol?: number; rss?: () => number } = {}): Promise<FanoutResult> {
  const inFlight = opts.inFlight ?? 8;
  const protocol = opts.protocol ?? 2;
  const per = Math.floor(total / writers);
  const tx = per * writers;
  const sentAt = new Map<string, number>();
  const ack = new Histogram();
  const fan = new Histogram();
  const received = new Array<number>(clients).fill(0);
  let peakRss = 0;
  const sockets: WebSocket[] = [];
  // Connect everyone first (bounded concurrency), then start writing.
  let next = 0;
  const lanes = Array.from({ length: Math.min(100, clients) }, async () => {
    while (next < clients) {
      const i = next++;
      const ws = new WebSocket(url);
      sockets[i] = ws;
      await new Promise<void>((resolve, reject) => {
        ws.once("error", reject);
        ws.once("open", () => ws.send(JSON.stringify({ type: "hello", protocol, name: `c${i}` })));
        const onSynced = (data: Buffer) => {
          if (data.length < 64 && data.toString().startsWith('{"type":"synced"')) {
            ws.off("message", onSynced);
            resolve();
          }
        };
        ws.on("message", onSynced);
      });
    }
  });
  await Promise.all(lanes);
  let done: () => void;
  const finished = new Promise<void>((r) => (done = r));
  let completeClients = 0;
  let ackedWriters = 0;
  const check = () => {
    if (completeClients === clients && ackedWriters === writers) done();
  };
  sockets.forEach((ws, i) => {
    ws.on("message", (data: Buffer) => {
      const text = data.toString();
      if (!text.startsWith('{"type":"tx')) return;
      const now = performance.now();
      const uids = editUids(JSON.parse(text));
      for (const uid of uids) fan.add(now - sentAt.get(uid)!);
      received[i]! += uids.length;
      if (received[i] === tx) {
        completeClients++;
        check();
      }
    });
  });
  const t0 = performance.now();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, opts.rss?.() ?? 0)), 200);
  for (let w = 0; w < writers; w++) {
    const ws = sockets[w]!;
    let sent = 0;
    let acked = 0;
    const sendOne = () => {
      const id = `w${w}-${sent++}`;
      sentAt.set(id, performance.now());
      ws.send(JSON.stringify({ type: "transact", id, tx: [{ "block/uid": id, "block/string": "benchmark block text", "block/order": sent }] }));
    };
    ws.on("message", (data: Buffer) => {
      const text = data.toString();
      if (text.startsWith('{"type":"rejected"')) throw new Error(text);
      if (!text.startsWith('{"type":"ack"')) return;
      const msg = JSON.parse(text) as { id: string };
      ack.add(performance.now() - sentAt.get(msg.id)!);
      if (++acked === per) {
        ackedWriters++;
        check();
      } else if (sent < per) sendOne();
    });
    for (let k = 0; k < Math.min(inFlight, per); k++) sendOne();
  }
  const timeout = new Promise<void>((r) => setTimeout(r, 600_000).unref());
  await Promise.race([finished, timeout]);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  await Promise.all(sockets.map((ws) => new Promise<void>((r) => (ws.readyState === WebSocket.CLOSED ? r() : (ws.once("close", () => r()), ws.terminate())))));
  return {
    clients,
    writers,
    tx,
    seconds,
    txPerSec: tx / seconds,
    ackP50: ack.percentile(50),
    ackP99: ack.percentile(99),
    fanoutP50: fan.percentile(50),
    fanoutP99: fan.percentile(99),
    incomplete: received.filter((n) => n !== tx).length,
    serverRssMiB: peakRss,
  };
}
