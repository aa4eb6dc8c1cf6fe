/**
 * `npm run bench`: the server's send path under load, over real sockets, against a real
 * server process. Prints numbers; not a test (the timed tests live in test/).
 *
 *   fan-out   C clients x W writers (BENCH_CONFIGS, default 10x1,100x16,1000x16), 8 in
 *             flight each: durable tx/s, ack and fan-out p50/p99; every client must
 *             receive every edit.
 *   connect   BENCH_CONNECT idle clients (default 5000) say hello: time to all synced, RSS.
 *   joins     BENCH_JOIN_DATOMS (default 1M) datoms, 5 clients join at once while another
 *             writes: the writer's ack p50/p99 before and during.
 *   peer      SQLite alone with one fsync per transaction: what group commit saves.
 *
 * BENCH_SERVER_MAIN runs another build (e.g. an older commit's dist/server/src/main.js;
 * set BENCH_PROTOCOL=1 for protocol 1). BENCH_CPU_PROF=<dir> writes the server's CPU
 * profile (node --cpu-prof) per run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { PROTOCOL_VERSION } from "../../../protocol/src";
import { closeAll, connectMany } from "./connect";
import { runFanout, spawnServer } from "./fanout-bench";
import { runJoins } from "./join-bench";

const MAIN = process.env.BENCH_SERVER_MAIN ?? path.join(__dirname, "..", "main.js");
const PROTOCOL = Number(process.env.BENCH_PROTOCOL ?? PROTOCOL_VERSION);
const CONFIGS = (process.env.BENCH_CONFIGS ?? "10x1,100x16,1000x16").split(",").filter(Boolean);
const TOTAL = Number(process.env.BENCH_TX ?? 20_000);
const CONNECT = Number(process.env.BENCH_CONNECT ?? 5000);
const PROF = process.env.BENCH_CPU_PROF;
const JOIN_DATOMS = Number(process.env.BENCH_JOIN_DATOMS ?? 1_000_000);

function nodeArgs(label: string): string[] {
  if (!PROF) return [];
  fs.mkdirSync(PROF, { recursive: true });
  return ["--cpu-prof", `--cpu-prof-dir=${PROF}`, `--cpu-prof-name=${label}.cpuprofile`];
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
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 1 : 0) : "-");
  console.log(`sync server bench: node ${process.version}, ${os.cpus().length} cpus, load ${os.loadavg()[0]!.toFixed(1)}, server ${MAIN}, protocol ${PROTOCOL}`);
  let failed = false;
  for (const config of CONFIGS) {
    const [c, w] = config.split("x").map(Number) as [number, number];
    const total = Number(process.env[`BENCH_TX_${config}`] ?? TOTAL);
    const server = await spawnServer(MAIN, {}, nodeArgs(`fanout-${config}`));
    try {
      const r = await runFanout(`ws://127.0.0.1:${server.port}/ws`, c, w, total, { protocol: PROTOCOL, rss: server.rssMiB });
      failed ||= r.incomplete > 0;
      console.log(
        `fan-out ${c} x ${w}: ${fmt(r.txPerSec)} durable tx/s (${r.tx} tx in ${r.seconds.toFixed(1)} s)  ack p50 ${fmt(r.ackP50)} p99 ${fmt(r.ackP99)} ms  fan-out p50 ${fmt(r.fanoutP50)} p99 ${fmt(r.fanoutP99)} ms  server RSS ${fmt(r.serverRssMiB)} MiB  ${r.incomplete === 0 ? "every client received every edit" : `${r.incomplete} CLIENTS MISSED EDITS`}`,
      );
    } finally {
      await server.stop();
    }
  }
  if (CONNECT > 0) {
    const server = await spawnServer(MAIN, {}, nodeArgs("connect"));
    try {
      const before = server.rssMiB();
      const { sockets, ms } = await connectMany(`ws://127.0.0.1:${server.port}/ws`, CONNECT, { concurrency: 200, protocol: PROTOCOL });
      await new Promise((r) => setTimeout(r, 500));
      console.log(`connect: ${CONNECT} idle clients synced in ${(ms / 1000).toFixed(2)} s; server RSS ${fmt(before)} -> ${fmt(server.rssMiB())} MiB`);
      await closeAll(sockets);
    } finally {
      await server.stop();
    }
  }
  if (JOIN_DATOMS > 0) {
    const server = await spawnServer(MAIN, { SYNC_MAX_TX_DATOMS: "10000" }, nodeArgs("joins"));
    try {
      const r = await runJoins(`ws://127.0.0.1:${server.port}/ws`, JOIN_DATOMS, PROTOCOL, { rss: server.rssMiB });
      console.log(
        `joins: ${r.datoms} datoms (seeded in ${r.seedSeconds.toFixed(0)} s); 5 snapshot joins took ${fmt(r.joinMs)} ms (${r.snapshotFrames} snapshot frames, ${r.snapshotDatoms} datoms each); writer (own process) ack idle p50 ${fmt(r.idle.p50)} p99 ${fmt(r.idle.p99)} max ${fmt(r.idle.max)} ms (${r.idle.n} acks), during joins p50 ${fmt(r.busy.p50)} p99 ${fmt(r.busy.p99)} max ${fmt(r.busy.max)} ms (${r.busy.n} acks); server peak RSS ${fmt(r.peakRssMiB)} MiB; load ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
      );
      console.log(`joins: slowest acks [ms after joins began, ms]: ${JSON.stringify(r.slowest)}`);
    } finally {
      await server.stop();
    }
  }
  const peer = benchOneFsyncPerTx(2000);
  console.log(`peer: SQLite alone, one fsync per tx (no group commit): ${fmt(peer.txPerSec)} tx/s, ${(1000 / peer.txPerSec).toFixed(2)} ms per commit on this disk`);
  if (failed) process.exitCode = 1;
}

void main();
