import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseOptions, UsageError } from "../src/options.ts";
import { combineRuns, type LoadResult, rotate, type RoundResult } from "../src/run.ts";
import { ratioRange, summaryTable } from "../src/table.ts";

const round = (editsPerSec: number, fanoutP99 = 10): RoundResult => ({
  edits: editsPerSec * 3,
  seconds: 3,
  editsPerSec,
  ackP50: 1,
  ackP99: 2,
  fanoutP50: 5,
  fanoutP99,
  receipts: editsPerSec * 3 * 9,
  serverCpu: 0.8,
  serverUsPerEdit: 100,
  clientCpu: 0.5,
});

const load = (server: string, rates: number[]): LoadResult => ({
  server,
  clients: 10,
  writers: 1,
  connectSeconds: 0.1,
  rounds: rates.map((r) => round(r)),
  median: round([...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!),
  rssBytes: 100,
  runEditsPerSec: [[...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!],
});

describe("several runs per configuration", () => {
  test("--runs is a whole number from 1 to 20, 1 by default", () => {
    assert.equal(parseOptions([]).runs, 1);
    assert.equal(parseOptions(["--runs", "3"]).runs, 3);
    for (const bad of ["0", "21", "2.5", "x"]) assert.throws(() => parseOptions(["--runs", bad]), (err: Error) => err instanceof UsageError && /--runs/.test(err.message));
  });

  test("servers take turns: run k starts with the k-th", () => {
    const list = ["ours", "mem", "sqlite"];
    assert.deepEqual([0, 1, 2, 3].map((k) => rotate(list, k)), [
      ["ours", "mem", "sqlite"],
      ["mem", "sqlite", "ours"],
      ["sqlite", "ours", "mem"],
      ["ours", "mem", "sqlite"],
    ]);
  });

  test("combined runs: medians over every round of every run, and each run's median kept in order", () => {
    // One slow run: its rounds are a third of the rounds, so they do not decide the median.
    const combined = combineRuns([load("ours", [100, 110, 120]), load("ours", [10, 20, 30]), load("ours", [105, 115, 125])]);
    assert.equal(combined.rounds.length, 9);
    assert.equal(combined.median.editsPerSec, 105);
    assert.deepEqual(combined.runEditsPerSec, [110, 20, 115]);
    assert.throws(() => combineRuns([]));
  });

  test("ratio per run pairs run k with run k, and the summary shows its range only for several runs", () => {
    assert.equal(ratioRange([110, 20, 115], [100, 100, 100]), "0.20-1.15");
    assert.equal(ratioRange([110], []), "–");
    const row = (ours: LoadResult, peer: LoadResult) => ({ clients: 10, writers: 1, results: new Map([["ours", { ok: true as const, result: ours }], ["peer", { ok: true as const, result: peer }]]) });
    const one = summaryTable([row(load("ours", [200]), load("peer", [100]))], ["ours", "peer"]);
    assert.doesNotMatch(one, /ratio per run/);
    const several = summaryTable([row(combineRuns([load("ours", [200]), load("ours", [90])]), combineRuns([load("peer", [100]), load("peer", [100])]))], ["ours", "peer"]);
    assert.match(several, /ratio per run vs peer/);
    assert.match(several, /\| 0\.90-2\.00 \|/);
  });
});
