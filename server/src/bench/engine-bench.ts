/**
 * `node dist/server/src/bench/engine-bench.js`: the writer's CPU per transaction with no
 * sockets in the way. The peer benchmark's edit (set one block's block/string through a
 * lookup ref) is submitted by W writers in groups of G, each group flushed as one durable
 * commit, as the server does. Prints µs per edit for the whole path and for each step, so
 * a change to the engine can be measured in seconds, away from socket and scheduling noise.
 *
 *   ENGINE_BENCH_TX (default 20000)  ENGINE_BENCH_GROUP (default 64)  ENGINE_BENCH_WRITERS (16)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SCHEMA } from "../datalog/schema";
import { SqliteStore } from "../storage/sqlite-store";
import { SyncEngine } from "../sync/engine";
import { encodeTxs } from "../sync/fanout";

const TX = Number(process.env.ENGINE_BENCH_TX ?? 20_000);
const GROUP = Number(process.env.ENGINE_BENCH_GROUP ?? 64);
const WRITERS = Number(process.env.ENGINE_BENCH_WRITERS ?? 16);

async function main(): Promise<void> {
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "engine-bench-"));
try {
  const store = new SqliteStore(path.join(dir, "sync.db"));
  let commitMs = 0;
  const engine = SyncEngine.open(store, {
    schema: SCHEMA,
    maxTxDatoms: 10_000,
    snapshotEvery: 1000,
    logRetain: 10_000,
    logger: pino({ level: "warn" }),
    onGroupCommit: (_size, seconds) => (commitMs += seconds * 1000),
  });
  let encodeMs = 0;
  engine.onCommit((entries) => {
    const t0 = performance.now();
    encodeTxs(entries);
    encodeMs += performance.now() - t0;
  });
  let acked = 0;
  const done = (r: { ok: boolean }) => {
    if (!r.ok) throw new Error("rejected");
    acked++;
  };
  for (let w = 0; w < WRITERS; w++) engine.submit(`bench${w}`, `setup-${w}`, [{ "block/uid": `bench-${w}`, "block/string": "", "block/order": w }], done);
  await engine.drain();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let submitMs = 0;
  for (let i = 0; i < TX; ) {
    const s = performance.now();
    for (let g = 0; g < GROUP && i < TX; g++, i++) {
      const w = i % WRITERS;
      // The same frame the peer benchmark's clients send, parsed as the connection does.
      const msg = JSON.parse(JSON.stringify({ type: "transact", id: `${w}.${i}`, tx: [[":db/add", ["block/uid", `bench-${w}`], "block/string", `${w}.${i}.${(performance.now()).toFixed(3)};`]] })) as { id: string; tx: unknown[] };
      engine.submit(`bench${w}`, msg.id, msg.tx, done);
    }
    submitMs += performance.now() - s;
    engine.flush();
    // Let fsyncs finish and ack, as the server's event loop would between groups.
    await new Promise((resolve) => setImmediate(resolve));
  }
  await engine.drain();
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (acked !== TX + WRITERS) throw new Error(`acked ${acked}, expected ${TX + WRITERS}`);
  const us = (ms: number) => ((ms * 1000) / TX).toFixed(1);
  console.log(
    `engine: ${TX} edits in groups of ${GROUP}: ${Math.round(TX / (wall / 1000))} tx/s wall, CPU ${(((cpu.user + cpu.system) / 1000 / TX) * 1000).toFixed(1)} µs/edit; ` +
      `submit ${us(submitMs)} µs, write to fsync done ${us(commitMs)} µs, encode ${us(encodeMs)} µs, per edit`,
  );
  await engine.close();
  store.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
}

void main();
