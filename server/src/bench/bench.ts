/**
 * `npm run bench`: throughput and ack latency of the real server over real sockets,
 * against a peer in the same run: the same SQLite settings with one fsync per
 * transaction (what a server without group commit pays). Prints numbers; not a test.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import WebSocket from "ws";
import { loadConfig } from "../config";
import { silentLogger } from "../logger";
import { PROTOCOL_VERSION } from "../../../protocol/src";
import { SyncServer } from "../server";

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 8);
const TOTAL = Number(process.env.BENCH_TX ?? 20_000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function client(url: string, name: string, count: number, inFlight: number, latencies: number[]): Promise<void> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  ws.send(JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, name }));
  let sent = 0;
  let acked = 0;
  const started = new Map<string, number>();
  await new Promise<void>((resolve, reject) => {
    const sendOne = () => {
      const id = `${name}-${sent++}`;
      started.set(id, performance.now());
      ws.send(JSON.stringify({ type: "transact", id, tx: [{ "block/uid": id, "block/string": "benchmark block text", "block/order": sent }] }));
    };
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.type === "synced") for (let i = 0; i < Math.min(inFlight, count); i++) sendOne();
      if (msg.type === "rejected") reject(new Error(msg.message));
      if (msg.type === "ack") {
        latencies.push(performance.now() - started.get(msg.id)!);
        if (++acked === count) resolve();
        else if (sent < count) sendOne();
      }
    });
  });
  ws.close();
}

async function benchServer(clients: number, inFlight: number, total: number) {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "sync-bench-"));
  const config = loadConfig({ SYNC_DATA_DIR: dataDir, SYNC_PORT: "0", SYNC_HOST: "127.0.0.1", SYNC_INSECURE_NO_AUTH: "1", SYNC_BACKUP_INTERVAL: "0", SYNC_RATE_LIMIT: "1000000" });
  const server = new SyncServer(config, { logger: silentLogger });
  const { port } = await server.start();
  const latencies: number[] = [];
  const per = Math.floor(total / clients);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: clients }, (_, i) => client(`ws://127.0.0.1:${port}/ws`, `c${i}`, per, inFlight, latencies)));
  const seconds = (performance.now() - t0) / 1000;
  const groups = await server.metrics.groupSize.get();
  const groupCount = groups.values.find((v) => v.metricName === "sync_commit_group_size_count")?.value ?? 1;
  await server.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  return { tx: per * clients, seconds, txPerSec: (per * clients) / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), perFsync: (per * clients) / groupCount };
}

function benchOneFsyncPerTx(total: number) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sync-bench-peer-"));
  const db = new Database(path.join(dir, "peer.db"));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.exec("CREATE TABLE log (t INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const insert = db.prepare("INSERT INTO log (t, body) VALUES (?, ?)");
  const body = JSON.stringify([[1, "block/uid", "x", 1, true], [1, "block/string", "benchmark block text", 1, true]]);
  const t0 = performance.now();
  for (let t = 0; t < total; t++) insert.run(t, body); // autocommit: one fsync each
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { tx: total, seconds, txPerSec: total / seconds };
}

async function main() {
  const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 0);
  console.log(`sync server bench: node ${process.version}, ${os.cpus().length} cpus, ${CLIENTS} clients x ${IN_FLIGHT} in flight, ${TOTAL} tx`);
  const serial = await benchServer(1, 1, Math.min(2000, TOTAL));
  console.log(`server, 1 client, 1 in flight:   ${fmt(serial.txPerSec)} tx/s  ack p50 ${fmt(serial.p50)} ms  p99 ${fmt(serial.p99)} ms  ${fmt(serial.perFsync)} tx/fsync`);
  const loaded = await benchServer(CLIENTS, IN_FLIGHT, TOTAL);
  console.log(`server, ${CLIENTS} clients, ${IN_FLIGHT} in flight: ${fmt(loaded.txPerSec)} tx/s  ack p50 ${fmt(loaded.p50)} ms  p99 ${fmt(loaded.p99)} ms  ${fmt(loaded.perFsync)} tx/fsync`);
  const peer = benchOneFsyncPerTx(Math.min(5000, TOTAL));
  console.log(`peer: SQLite alone, one fsync per tx (no group commit): ${fmt(peer.txPerSec)} tx/s, ${(1000 / peer.txPerSec).toFixed(3)} ms per commit on this disk`);
  console.log(`transactions per fsync under load: ${fmt(loaded.perFsync)} (a disk with slower fsync, e.g. network block storage, is where this pays)`);
}

void main();
