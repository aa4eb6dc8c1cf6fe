/**
 * One configuration against one server: a fresh server process, C clients spread over
 * the client processes (client i in process i mod P; clients 0..W-1 write), a warm-up
 * round, then measured rounds on the same connections.
 *
 * A round: every writer keeps `inFlight` edits outstanding for `durationMs`, then stops
 * sending and waits for its last acks. Then every client must hold every edit of the
 * round, in each writer's order, by a deadline, or the run fails.
 */
import { nowMs } from "./clock.ts";
import { Histogram } from "./histogram.ts";
import { ClientPool, RunFailed } from "./pool.ts";
import type { ServerUnderTest } from "./servers/server.ts";

export interface Timing {
  readonly rounds: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly inFlight: number;
  readonly clientProcesses: number;
  /** Handshakes outstanding at once, per client process. */
  readonly connectConcurrency: number;
  readonly connectDeadlineMs: number;
  /** After a round's writing stops: how long acks, and then fan-out, may take. */
  readonly drainMs: number;
}

export interface RoundResult {
  readonly edits: number;
  readonly seconds: number;
  readonly editsPerSec: number;
  readonly ackP50: number;
  readonly ackP99: number;
  readonly fanoutP50: number;
  readonly fanoutP99: number;
  /** Edit receipts checked at clients other than the author: edits × (C − 1). */
  readonly receipts: number;
  /** Server CPU time over the round's wall time (1.0 = one core). */
  readonly serverCpu: number;
  /**
   * Server CPU time (all its threads) per edit, in µs, from the round's start until every
   * client held every edit: the cost of an edit including its fan-out. Unlike edits/s it
   * barely moves when other processes compete for the cores.
   */
  readonly serverUsPerEdit: number;
  /** All client processes' CPU time over the round's wall time. */
  readonly clientCpu: number;
}

export interface LoadResult {
  readonly server: string;
  readonly clients: number;
  readonly writers: number;
  readonly connectSeconds: number;
  readonly rounds: RoundResult[];
  /** Medians over the measured rounds, metric by metric. */
  readonly median: RoundResult;
  readonly rssBytes: number;
  /** Each run's median edits/s, in run order (one entry unless --runs). */
  readonly runEditsPerSec: number[];
}

export interface IdleResult {
  readonly server: string;
  readonly clients: number;
  readonly connected: number;
  /** From the first connect to the last client in sync (or the deadline). */
  readonly seconds: number;
  readonly timedOut: boolean;
  readonly rssBeforeBytes: number;
  readonly rssBytes: number;
  /** Server CPU time spent while the clients connected, in s. */
  readonly serverCpuSeconds: number;
}

export type Start = () => Promise<ServerUnderTest>;

/** BENCH_DEBUG=1 prints how long each phase of a run took. */
const debug = process.env.BENCH_DEBUG ? (what: string, since: number) => process.stderr.write(`  [${what}: ${((nowMs() - since) / 1000).toFixed(2)} s]\n`) : () => {};

function spread(count: number, processes: number): number[][] {
  const out: number[][] = Array.from({ length: processes }, () => []);
  for (let i = 0; i < count; i++) out[i % processes]!.push(i);
  return out;
}

async function connectAll(server: ServerUnderTest, pool: ClientPool, clients: number, writers: number, timing: Timing) {
  const startedAt = nowMs();
  const deadlineAt = startedAt + timing.connectDeadlineMs;
  spread(clients, pool.size).forEach((indexes, i) =>
    pool.send(i, { cmd: "connect", kind: server.kind, url: server.url, protocol: server.protocol, hocuspocusEdit: server.hocuspocusEdit, clients: indexes, writers, concurrency: timing.connectConcurrency, deadlineAt }),
  );
  const reports = await pool.gather("connected", deadlineAt + 15_000, `${server.label}: connecting ${clients} clients`);
  const connected = reports.reduce((n, r) => n + r.connected, 0);
  const doneAt = Math.max(...reports.map((r) => r.doneAt));
  return { connected, seconds: (doneAt - startedAt) / 1000, firstError: reports.find((r) => r.firstError)?.firstError ?? null };
}

/** Starts the server and the client processes side by side; if either fails, stops the other. */
async function startBoth(start: Start, clients: number, timing: Timing): Promise<[ServerUnderTest, ClientPool]> {
  const t = nowMs();
  const [server, pool] = await Promise.allSettled([start(), ClientPool.start(Math.min(timing.clientProcesses, clients))]);
  debug("server and client processes start", t);
  if (server.status === "fulfilled" && pool.status === "fulfilled") return [server.value, pool.value];
  if (server.status === "fulfilled") await server.value.stop();
  if (pool.status === "fulfilled") await pool.value.close();
  throw server.status === "rejected" ? server.reason : (pool as PromiseRejectedResult).reason;
}

export async function runLoad(start: Start, clients: number, writers: number, timing: Timing): Promise<LoadResult> {
  const [server, pool] = await startBoth(start, clients, timing);
  let t: number;
  try {
    t = nowMs();
    const connect = await connectAll(server, pool, clients, writers, timing);
    debug("connect", t);
    if (connect.connected !== clients) {
      throw new RunFailed(`${server.label}: only ${connect.connected} of ${clients} clients connected in ${connect.seconds.toFixed(1)} s (${connect.firstError ?? "deadline"})`);
    }
    pool.sendAll({ cmd: "prepare" });
    await pool.gather("prepared", nowMs() + 60_000, `${server.label}: preparing writers`);
    const rounds: RoundResult[] = [];
    const total = timing.rounds + (timing.warmupMs > 0 ? 1 : 0);
    for (let r = 0; r < total; r++) {
      const warmup = timing.warmupMs > 0 && r === 0;
      t = nowMs();
      const result = await round(server, pool, r, warmup ? timing.warmupMs : timing.durationMs, clients, timing);
      debug(`round ${r}`, t);
      if (!warmup) rounds.push(result);
    }
    const median = medianOf(rounds);
    return {
      server: server.label,
      clients,
      writers,
      connectSeconds: connect.seconds,
      rounds,
      median,
      rssBytes: server.rss(),
      runEditsPerSec: [median.editsPerSec],
    };
  } finally {
    t = nowMs();
    await pool.close();
    debug("clients close", t);
    t = nowMs();
    await server.stop();
    debug("server stop", t);
  }
}

async function round(server: ServerUnderTest, pool: ClientPool, r: number, durationMs: number, clients: number, timing: Timing): Promise<RoundResult> {
  const what = `${server.label}: round ${r}`;
  const serverCpu0 = server.cpuMs();
  const startAt = nowMs() + 50;
  const ackDeadline = startAt + durationMs + timing.drainMs;
  pool.sendAll({ cmd: "round", round: r, startAt, durationMs, inFlight: timing.inFlight, deadlineAt: ackDeadline });
  const written = await pool.gather("written", ackDeadline + 5_000, `${what}: waiting for acks`);
  const totals: Record<string, number> = {};
  const ack = new Histogram();
  let edits = 0;
  for (const w of written) {
    Object.assign(totals, w.totals);
    ack.merge(w.ack);
    edits += w.sentThisRound;
  }
  const lastAckAt = Math.max(...written.map((w) => w.lastAckAt));
  const fanoutDeadline = nowMs() + timing.drainMs;
  pool.sendAll({ cmd: "expect", round: r, totals, deadlineAt: fanoutDeadline });
  const received = await pool.gather("received", fanoutDeadline + 5_000, `${what}: waiting for fan-out`);
  const endAt = nowMs();
  const missing = received.flatMap((x) => x.missing);
  if (missing.length > 0) throw new RunFailed(`${what}: edits did not reach every client within ${timing.drainMs / 1000} s:\n  ${missing.slice(0, 10).join("\n  ")}`);
  const fanout = new Histogram();
  for (const x of received) fanout.merge(x.fanout);
  const expectedReceipts = edits * (clients - 1);
  if (fanout.count !== expectedReceipts) {
    throw new RunFailed(`${what}: ${fanout.count} edit receipts at other clients, expected ${edits} edits × ${clients - 1} = ${expectedReceipts}`);
  }
  const wall = endAt - startAt;
  const serverCpuMs = server.cpuMs() - serverCpu0;
  const seconds = (lastAckAt - startAt) / 1000;
  const clientCpuMs = written.reduce((n, w) => n + w.cpuMs, 0) + received.reduce((n, x) => n + x.cpuMs, 0);
  return {
    edits,
    seconds,
    editsPerSec: edits / seconds,
    ackP50: ack.percentile(50),
    ackP99: ack.percentile(99),
    fanoutP50: fanout.percentile(50),
    fanoutP99: fanout.percentile(99),
    receipts: fanout.count,
    serverCpu: serverCpuMs / wall,
    serverUsPerEdit: (serverCpuMs * 1000) / edits,
    clientCpu: clientCpuMs / wall,
  };
}

export async function runIdle(start: Start, clients: number, timing: Timing): Promise<IdleResult> {
  const [server, pool] = await startBoth(start, clients, timing);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const rssBeforeBytes = server.rss();
    const cpu0 = server.cpuMs();
    const connect = await connectAll(server, pool, clients, 0, timing);
    const serverCpuSeconds = (server.cpuMs() - cpu0) / 1000;
    return {
      server: server.label,
      clients,
      connected: connect.connected,
      seconds: connect.seconds,
      timedOut: connect.connected < clients,
      rssBeforeBytes,
      rssBytes: server.rss(),
      serverCpuSeconds,
    };
  } finally {
    await pool.close();
    await server.stop();
  }
}

/** The list starting at position `by` (mod its length): run k starts with server k. */
export function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

/**
 * Several runs of one server on one configuration as one result: medians over every
 * round of every run (so one slow run moves them less than it would a median of run
 * medians with few runs), plus each run's own median edits/s.
 */
export function combineRuns(runs: readonly LoadResult[]): LoadResult {
  if (runs.length === 0) throw new Error("combineRuns: no runs");
  const rounds = runs.flatMap((r) => r.rounds);
  return {
    server: runs[0]!.server,
    clients: runs[0]!.clients,
    writers: runs[0]!.writers,
    connectSeconds: median(runs.map((r) => r.connectSeconds)),
    rounds,
    median: medianOf(rounds),
    rssBytes: median(runs.map((r) => r.rssBytes)),
    runEditsPerSec: runs.flatMap((r) => r.runEditsPerSec),
  };
}

function median(values: number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function medianOf(rounds: RoundResult[]): RoundResult {
  const keys = Object.keys(rounds[0]!) as Array<keyof RoundResult>;
  return Object.fromEntries(keys.map((k) => [k, median(rounds.map((r) => r[k]))])) as unknown as RoundResult;
}
