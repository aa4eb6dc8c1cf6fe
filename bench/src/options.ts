/** Command-line options of `npm run bench`, parsed once; a bad value names the option and the fix. */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Timing } from "./run.ts";
import { EDIT_MODES, type EditMode } from "./clients/hocuspocus.ts";

export const PEERS = ["hocuspocus", "relay"] as const;
export type Peer = (typeof PEERS)[number];

export interface Options {
  readonly peers: Peer[];
  /** What a Hocuspocus writer's edit does to its text; reaches the client processes in the IPC `connect` command. */
  readonly hocuspocusEdit: EditMode;
  readonly configs: Array<{ clients: number; writers: number }>;
  readonly idle: number[];
  /** Runs per configuration, each server on a fresh process, the servers' order rotating from run to run. */
  readonly runs: number;
  readonly timing: Timing;
  /** A checkout of this repository whose server/ is measured. */
  readonly serverDir: string;
  readonly serverEnv: Record<string, string>;
  readonly build: boolean;
  readonly json: string | null;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const USAGE = `usage: npm run bench -- [options]

  --peer hocuspocus      also run Hocuspocus 4 (in memory, and with its SQLite extension)
  --peer relay           also run a relay that does no work: the ceiling on this machine
  --hocuspocus-edit replace   each Hocuspocus edit replaces the writer's text, as ours replaces
                         its block's string; "append" appends it to the writer's text instead
                         (the workload before this option: Hocuspocus's cost per edit then grows
                         with the writer's run of text)
  --quick                10x1 and 100x16, one round of 2s, 1,000 idle clients (1-3 minutes)
  --configs 10x1,100x16  C×W configurations (C clients, W of them writing)
  --idle 5000,10000      idle-connection counts ("none" to skip)
  --runs 1               runs per configuration, each server afresh, taking turns (run k
                         starts with the k-th server); the table shows medians over every
                         round of every run, and the range of the per-run ratios
  --rounds 3             measured rounds per run; the table shows medians
  --duration 3s          writing time per round (a warm-up round of --warmup runs first)
  --warmup 1s            ("0" for none)
  --in-flight 8          edits outstanding per writer
  --client-procs 2       client processes (clients are spread over them)
  --connect-concurrency 128   handshakes outstanding at once, per client process
  --connect-deadline 90s      a connect phase gives up after this
  --drain 60s            after writing stops: the bound for acks, then for fan-out
  --server-dir DIR       a checkout of this repository to measure (default: this one)
  --server-env K=V       extra environment for our server (repeatable)
  --no-build             do not run \`npm run build\` in DIR/server first
  --json FILE            also write every result as JSON
`;

const DEFAULT_CONFIGS = "10x1,100x1,100x16,100x100,1000x16";
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;

function duration(name: string, text: string): number {
  if (text === "0") return 0;
  const match = DURATION.exec(text);
  if (!match) throw new UsageError(`--${name}: "${text}" is not a duration; write e.g. 500ms, 3s, 2m`);
  return Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] as "ms" | "s" | "m"];
}

function count(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name}: "${text}" must be a whole number from ${min} to ${max}`);
  return n;
}

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      peer: { type: "string", multiple: true },
      "hocuspocus-edit": { type: "string", default: "replace" },
      quick: { type: "boolean", default: false },
      configs: { type: "string" },
      idle: { type: "string" },
      runs: { type: "string", default: "1" },
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      "in-flight": { type: "string", default: "8" },
      "client-procs": { type: "string", default: "2" },
      "connect-concurrency": { type: "string", default: "128" },
      "connect-deadline": { type: "string", default: "90s" },
      drain: { type: "string", default: "60s" },
      "server-dir": { type: "string" },
      "server-env": { type: "string", multiple: true },
      "no-build": { type: "boolean", default: false },
      json: { type: "string" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) throw new UsageError("");
  const quick = values.quick;
  const peers = (values.peer ?? []).map((p) => {
    if (!(PEERS as readonly string[]).includes(p)) throw new UsageError(`--peer: "${p}" is not a known peer; use ${PEERS.join(", ")}`);
    return p as Peer;
  });
  const hocuspocusEdit = values["hocuspocus-edit"];
  if (!(EDIT_MODES as readonly string[]).includes(hocuspocusEdit)) throw new UsageError(`--hocuspocus-edit: "${hocuspocusEdit}" is not one of ${EDIT_MODES.join(", ")}`);
  const configs = (values.configs ?? (quick ? "10x1,100x16" : DEFAULT_CONFIGS)).split(",").map((c) => {
    const match = /^(\d+)x(\d+)$/.exec(c.trim());
    if (!match) throw new UsageError(`--configs: "${c}" is not CxW, e.g. 100x16`);
    const clients = count("configs", match[1]!, 2, 20_000);
    const writers = count("configs", match[2]!, 1, clients);
    return { clients, writers };
  });
  const idleText = values.idle ?? (quick ? "1000" : "5000,10000");
  const idle = idleText === "none" ? [] : idleText.split(",").map((n) => count("idle", n.trim(), 1, 20_000));
  const serverEnv: Record<string, string> = {};
  for (const kv of values["server-env"] ?? []) {
    const at = kv.indexOf("=");
    if (at < 1 || !kv.startsWith("SYNC_")) throw new UsageError(`--server-env: "${kv}" must be SYNC_NAME=value`);
    serverEnv[kv.slice(0, at)] = kv.slice(at + 1);
  }
  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
  return {
    peers,
    hocuspocusEdit: hocuspocusEdit as EditMode,
    configs,
    idle,
    runs: count("runs", values.runs, 1, 20),
    timing: {
      rounds: count("rounds", values.rounds ?? (quick ? "1" : "3"), 1, 20),
      warmupMs: duration("warmup", values.warmup ?? (quick ? "500ms" : "1s")),
      durationMs: duration("duration", values.duration ?? (quick ? "2s" : "3s")) || 1,
      inFlight: count("in-flight", values["in-flight"], 1, 1000),
      clientProcesses: count("client-procs", values["client-procs"], 1, 64),
      connectConcurrency: count("connect-concurrency", values["connect-concurrency"], 1, 10_000),
      connectDeadlineMs: duration("connect-deadline", values["connect-deadline"]),
      drainMs: duration("drain", values.drain),
    },
    serverDir: path.resolve(values["server-dir"] ?? repoRoot),
    serverEnv,
    build: !values["no-build"],
    json: values.json ?? null,
  };
}
