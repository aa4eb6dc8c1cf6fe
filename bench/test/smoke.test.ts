/**
 * The harness itself, end to end, on a tiny configuration: real servers (ours built from
 * this checkout, Hocuspocus in memory and with SQLite), real sockets, client processes.
 * Not a benchmark: it asserts that numbers come out and that the delivery check holds,
 * and that a lost edit fails the run.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const RUN = fileURLToPath(new URL("../run.mjs", import.meta.url));
const TINY = ["--configs", "4x2", "--rounds", "1", "--duration", "500ms", "--warmup", "0", "--connect-deadline", "30s", "--drain", "30s"];

function bench(args: string[], env: NodeJS.ProcessEnv = {}) {
  const json = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-smoke-")), "out.json");
  const run = spawnSync(process.execPath, [RUN, ...args, "--json", json], { encoding: "utf8", env: { ...process.env, ...env }, timeout: 240_000 });
  const result = fs.existsSync(json) ? JSON.parse(fs.readFileSync(json, "utf8")) : null;
  fs.rmSync(path.dirname(json), { recursive: true, force: true });
  return { ...run, result };
}

const SERVERS = ["ours", "hocuspocus (memory)", "hocuspocus (sqlite)"];

test("both servers: every edit reached every client, and the table has numbers", { timeout: 300_000 }, () => {
  const run = bench(["--peer", "hocuspocus", ...TINY, "--idle", "20"]);
  assert.equal(run.status, 0, `exit ${run.status}\n${run.stderr}`);
  const [load] = run.result.load;
  for (const server of SERVERS) {
    const outcome = load.results[server];
    assert.equal(outcome.ok, true, `${server}: ${outcome.error}`);
    const [round] = outcome.result.rounds;
    assert.ok(round.edits > 0, `${server} made no edits`);
    // Each edit was checked at the 3 clients that did not write it.
    assert.equal(round.receipts, round.edits * 3, server);
    for (const key of ["editsPerSec", "ackP50", "ackP99", "fanoutP50", "fanoutP99"]) {
      assert.ok(Number.isFinite(round[key]) && round[key] > 0, `${server} ${key} = ${round[key]}`);
    }
    const idle = run.result.idle[0].results[server];
    assert.equal(idle.ok, true, `${server} idle: ${idle.error}`);
    assert.equal(idle.result.connected, 20);
    assert.ok(idle.result.rssBytes > 10 * 1024 ** 2, `${server} RSS ${idle.result.rssBytes}`);
  }
  assert.match(run.stdout, /^\| 4 × 2 \| [\d,]+ \| [\d,]+ \| [\d,]+ \| \d+\.\d\d \| \d+\.\d\d \| [\d.,]+ \/ [\d.,]+ \/ [\d.,]+ \|$/m);
  assert.match(run.stdout, /not durable/);
});

test("the relay: every edit reached every client through a server that does no work", { timeout: 300_000 }, () => {
  const run = bench(["--peer", "relay", ...TINY, "--idle", "none"]);
  assert.equal(run.status, 0, `exit ${run.status}\n${run.stderr}`);
  for (const server of ["ours", "relay (no work)"]) {
    const outcome = run.result.load[0].results[server];
    assert.equal(outcome.ok, true, `${server}: ${outcome.error}`);
    const [round] = outcome.result.rounds;
    assert.ok(round.edits > 0, `${server} made no edits`);
    assert.equal(round.receipts, round.edits * 3, server);
  }
  assert.match(run.stdout, /^\| 4 × 2 \| [\d,]+ \| [\d,]+ \| \d+\.\d\d \| [\d.,]+ \/ [\d.,]+ \|$/m);
  assert.match(run.stdout, /most edits\/s this machine's clients take/);
});

test("a lost edit fails the run loudly", { timeout: 300_000 }, () => {
  const run = bench([...TINY, "--configs", "3x1", "--idle", "none"], { BENCH_FAULT: "drop-edit" });
  assert.equal(run.status, 1, run.stderr);
  assert.match(run.stderr, /FAILED ours 3×1/);
  assert.match(run.stderr, /client 1: writer 0 edit 3 arrived when 2 was due \(gap: lost edits\)/);
  assert.match(run.stdout, /^\| 3 × 1 \| FAILED \|/m);
});
