/**
 * `npm run bench [-- --peer hocuspocus]`: our server against Hocuspocus on one workload,
 * in one run, on one Node. See the README, "Benchmark", for the workload, what an ack
 * is on each side, and the process topology.
 */
import fs from "node:fs";
import os from "node:os";
import { type Options, parseOptions, USAGE, UsageError } from "./options.ts";
import { combineRuns, type IdleResult, type LoadResult, rotate, runIdle, runLoad, type Start } from "./run.ts";
import { openFilesLimit } from "./servers/proc.ts";
import { buildOurs, startOurs } from "./servers/ours.ts";
import { startHocuspocus } from "./servers/hocuspocus.ts";
import { startRelay } from "./servers/relay.ts";
import { type ConfigRow, detailTable, type IdleRow, idleTable, type Outcome, summaryTable } from "./table.ts";

const HEADROOM_FDS = 200;

async function attempt<T>(what: string, run: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, result: await run() };
  } catch (err) {
    const error = (err as Error).message;
    process.stderr.write(`\nFAILED ${what}:\n${error}\n\n`);
    return { ok: false, error };
  }
}

function servers(options: Options): Array<{ label: string; start: Start }> {
  const maxClients = Math.max(...options.configs.map((c) => c.clients), ...options.idle, 1);
  const list: Array<{ label: string; start: Start }> = [
    { label: "ours", start: () => startOurs({ repoDir: options.serverDir, extraEnv: options.serverEnv, maxConnections: maxClients + 100 }) },
  ];
  if (options.peers.includes("hocuspocus")) {
    list.push({ label: "hocuspocus (memory)", start: () => startHocuspocus("memory", options.hocuspocusEdit) });
    list.push({ label: "hocuspocus (sqlite)", start: () => startHocuspocus("sqlite", options.hocuspocusEdit) });
  }
  if (options.peers.includes("relay")) list.push({ label: "relay (no work)", start: () => startRelay() });
  return list;
}

function describe(r: LoadResult): string {
  const m = r.median;
  return `${Math.round(m.editsPerSec)} edits/s, ack p50/p99 ${m.ackP50.toFixed(2)}/${m.ackP99.toFixed(2)} ms, fan-out p50/p99 ${m.fanoutP50.toFixed(2)}/${m.fanoutP99.toFixed(2)} ms, server CPU ${(m.serverCpu * 100).toFixed(0)}%, ${Math.round(m.serverUsPerEdit)} µs/edit`;
}

function describeIdle(r: IdleResult): string {
  return `${r.connected}/${r.clients} in sync in ${r.timedOut ? "> " : ""}${r.seconds.toFixed(2)} s, server RSS ${(r.rssBytes / 1024 ** 2).toFixed(0)} MiB`;
}

async function main(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(err.message ? `${err.message}\n\n${USAGE}` : USAGE);
    return err.message ? 2 : 0;
  }
  const list = servers(options);
  const labels = list.map((s) => s.label);

  // Node raises its soft open-files limit to the hard limit at start; each process here
  // holds at most one side of every connection.
  const fds = openFilesLimit();
  const idle = options.idle.filter((n) => {
    if (n + HEADROOM_FDS <= fds) return true;
    process.stderr.write(`skipping ${n} idle clients: the open-files limit is ${fds}; raise it (ulimit -Hn, as root) to at least ${n + HEADROOM_FDS}\n`);
    return false;
  });

  if (options.build) {
    if (buildOurs(options.serverDir)) process.stderr.write(`built ${options.serverDir}/server\n`);
  }

  const started = Date.now();
  const header = [
    `node ${process.version}, ${os.cpus().length} cpus (${os.cpus()[0]?.model ?? "?"}), load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
    `ours: ${options.serverDir}/server; workload: one shared document, W writers with ${options.timing.inFlight} edits in flight each, ` +
      `${options.runs > 1 ? `${options.runs} runs per configuration (servers taking turns), each ` : ""}` +
      `${options.timing.rounds} round(s) of ${options.timing.durationMs / 1000} s after a ${options.timing.warmupMs / 1000} s warm-up, medians; ` +
      `${options.timing.clientProcesses} client processes` +
      (options.peers.includes("hocuspocus") ? `; a Hocuspocus edit ${options.hocuspocusEdit === "replace" ? "replaces" : "appends to"} its writer's text` : ""),
  ];
  process.stderr.write(`${header.join("\n")}\n`);

  const rows: ConfigRow[] = [];
  for (const { clients, writers } of options.configs) {
    const runs = new Map<string, LoadResult[]>(list.map((s) => [s.label, []]));
    const failures = new Map<string, Outcome<LoadResult>>();
    for (let run = 0; run < options.runs; run++) {
      // Taking turns: no server always runs first, on a machine that drifts (page cache, other load).
      for (const server of rotate(list, run)) {
        if (failures.has(server.label)) continue;
        const what = `${server.label} ${clients}×${writers}${options.runs > 1 ? ` (run ${run + 1} of ${options.runs})` : ""}`;
        const outcome = await attempt(what, () => runLoad(server.start, clients, writers, options.timing));
        if (outcome.ok) {
          process.stderr.write(`${what}: ${describe(outcome.result)}\n`);
          runs.get(server.label)!.push(outcome.result);
        } else failures.set(server.label, outcome);
      }
    }
    const results = new Map<string, Outcome<LoadResult>>(
      list.map((s) => [s.label, failures.get(s.label) ?? { ok: true, result: combineRuns(runs.get(s.label)!) }]),
    );
    rows.push({ clients, writers, results });
  }
  const idleRows: IdleRow[] = [];
  for (const clients of idle) {
    const results = new Map<string, Outcome<IdleResult>>();
    for (const server of list) {
      const what = `${server.label} ${clients} idle`;
      const outcome = await attempt(what, () => runIdle(server.start, clients, options.timing));
      if (outcome.ok) process.stderr.write(`${what}: ${describeIdle(outcome.result)}\n`);
      results.set(server.label, outcome);
    }
    idleRows.push({ clients, results });
  }

  const out: string[] = ["", ...header, ""];
  if (rows.length > 0) {
    out.push(summaryTable(rows, labels), "", detailTable(rows, labels), "");
  }
  if (idleRows.length > 0) out.push(idleTable(idleRows, labels), "");
  out.push(
    `edits/s: acked edits over the time from a round's start to its last ack, median of the rounds${options.runs > 1 ? " of every run" : ""}.`,
    ...(options.runs > 1 && options.peers.length > 0 ? ["ratio per run: each run's median edits/s over the peer's in the same run (run k of each server), lowest-highest."] : []),
    "ack: ours = the `ack` frame, sent only after the group commit's fsync (durable).",
    ...(options.peers.includes("hocuspocus")
      ? ["ack: Hocuspocus = its SyncStatus reply, sent after the update is applied in memory (not durable; the SQLite extension stores the whole document later, debounced 2-10 s)."]
      : []),
    ...(options.peers.includes("relay")
      ? ["relay (no work): acks at once and relays each edit, paced like ours, with no log, fsync, validation or datascript: the most edits/s this machine's clients take (bench/src/servers/relay-child.ts)."]
      : []),
    "fan-out: an edit's send at its writer -> its receipt at each other client (every receipt counted; every client checked to hold every edit, in order).",
    "server µs CPU / edit: the server process's CPU time (all threads) per edit, fan-out included; it holds when other processes compete for the cores, edits/s and latencies do not.",
    `total time ${((Date.now() - started) / 1000).toFixed(0)} s; load average at the end ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`,
  );
  process.stdout.write(`${out.join("\n")}\n`);

  if (options.json) {
    const plain = (m: ReadonlyMap<string, unknown>) => Object.fromEntries(m);
    fs.writeFileSync(options.json, JSON.stringify({ header, options, load: rows.map((r) => ({ ...r, results: plain(r.results) })), idle: idleRows.map((r) => ({ ...r, results: plain(r.results) })) }, null, 2));
  }
  const failed = [...rows, ...idleRows].some((r) => [...r.results.values()].some((o) => !o.ok));
  if (failed) process.stderr.write("\nFAILED: at least one run failed (see above); its row says FAILED.\n");
  return failed ? 1 : 0;
}

process.exitCode = await main();
