/** Markdown tables of a run's results, ready to paste into the README. */
import type { IdleResult, LoadResult } from "./run.ts";

export type Outcome<T> = { ok: true; result: T } | { ok: false; error: string };

export interface ConfigRow {
  readonly clients: number;
  readonly writers: number;
  /** Keyed by server label. */
  readonly results: ReadonlyMap<string, Outcome<LoadResult>>;
}

export interface IdleRow {
  readonly clients: number;
  readonly results: ReadonlyMap<string, Outcome<IdleResult>>;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const ms = (n: number) => (!Number.isFinite(n) ? "–" : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : int(n));
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? (a / b).toFixed(2) : "–");
/** Run k of ours over run k of the peer, for every k both completed: "lowest-highest". */
export function ratioRange(ours: readonly number[], peer: readonly number[]): string {
  const ratios: number[] = [];
  for (let k = 0; k < Math.min(ours.length, peer.length); k++) if (peer[k]! > 0) ratios.push(ours[k]! / peer[k]!);
  if (ratios.length === 0) return "–";
  return `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`;
}
const mib = (bytes: number) => (Number.isFinite(bytes) ? `${(bytes / 1024 ** 2).toFixed(0)} MiB` : "–");

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}

function value<T>(outcome: Outcome<T> | undefined): T | undefined {
  return outcome?.ok ? outcome.result : undefined;
}

/** The headline: edits/s per server, ours over each peer, and fan-out p99 side by side. */
export function summaryTable(rows: ConfigRow[], servers: string[]): string {
  const [ours, ...peers] = servers;
  const several = rows.some((row) => servers.some((s) => (value(row.results.get(s))?.runEditsPerSec.length ?? 0) > 1));
  const head = [
    "C × W",
    ...servers.map((s) => `${s} edits/s`),
    ...peers.map((p) => `ratio vs ${p}`),
    ...(several ? peers.map((p) => `ratio per run vs ${p}`) : []),
    `fan-out p99 ms: ${servers.join(" / ")}`,
  ];
  return table(
    head,
    rows.map((row) => {
      const r = (s: string) => value(row.results.get(s));
      const rate = (s: string) => (row.results.get(s)?.ok === false ? "FAILED" : int(r(s)?.median.editsPerSec ?? NaN));
      return [
        `${int(row.clients)} × ${int(row.writers)}`,
        ...servers.map(rate),
        ...peers.map((p) => ratio(r(ours!)?.median.editsPerSec ?? NaN, r(p)?.median.editsPerSec ?? NaN)),
        ...(several ? peers.map((p) => ratioRange(r(ours!)?.runEditsPerSec ?? [], r(p)?.runEditsPerSec ?? [])) : []),
        servers.map((s) => ms(r(s)?.median.fanoutP99 ?? NaN)).join(" / "),
      ];
    }),
  );
}

/** Every measured figure, medians over the rounds. */
export function detailTable(rows: ConfigRow[], servers: string[]): string {
  const head = ["C × W", "server", "edits/s", "ack p50 ms", "ack p99 ms", "fan-out p50 ms", "fan-out p99 ms", "receipts checked / round", "server CPU", "server µs CPU / edit", "clients CPU", "connect s"];
  const out: string[][] = [];
  for (const row of rows) {
    for (const s of servers) {
      const outcome = row.results.get(s);
      if (!outcome) continue;
      const label = `${int(row.clients)} × ${int(row.writers)}`;
      if (!outcome.ok) {
        out.push([label, s, "FAILED", "", "", "", "", "", "", "", "", ""]);
        continue;
      }
      const m = outcome.result.median;
      out.push([
        label,
        s,
        int(m.editsPerSec),
        ms(m.ackP50),
        ms(m.ackP99),
        ms(m.fanoutP50),
        ms(m.fanoutP99),
        int(m.receipts),
        `${(m.serverCpu * 100).toFixed(0)}%`,
        int(m.serverUsPerEdit),
        `${(m.clientCpu * 100).toFixed(0)}%`,
        outcome.result.connectSeconds.toFixed(1),
      ]);
    }
  }
  return table(head, out);
}

export function idleTable(rows: IdleRow[], servers: string[]): string {
  const head = ["idle clients", "server", "in sync", "connect time", "server CPU", "server RSS", "RSS per client"];
  const out: string[][] = [];
  for (const row of rows) {
    for (const s of servers) {
      const outcome = row.results.get(s);
      if (!outcome) continue;
      if (!outcome.ok) {
        out.push([int(row.clients), s, "FAILED", "", "", "", ""]);
        continue;
      }
      const r = outcome.result;
      out.push([
        int(row.clients),
        s,
        int(r.connected),
        `${r.timedOut ? "> " : ""}${r.seconds.toFixed(2)} s`,
        `${r.serverCpuSeconds.toFixed(2)} s`,
        mib(r.rssBytes),
        r.connected > 0 ? `${((r.rssBytes - r.rssBeforeBytes) / r.connected / 1024).toFixed(1)} KiB` : "–",
      ]);
    }
  }
  return table(head, out);
}
