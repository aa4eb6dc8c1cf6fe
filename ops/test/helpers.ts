import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "../src/cli";
import type { Io } from "../src/context";
// The server's own test client and process helpers: one copy of the wire-level test code.
import { Client, clientView, exited, spawnServer } from "../../server/test/helpers";

export { Client, clientView };

export const ADMIN = "ops-admin-token-0123456789abcdef0123456789";

export function tmpDir(prefix = "ops-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Runs one `athens-sync` command line in-process with a captured terminal. */
export async function cli(argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; confirm?: boolean | null; now?: Date } = {}): Promise<Result> {
  let stdout = "";
  let stderr = "";
  const io: Io = {
    out: (t) => void (stdout += t),
    err: (t) => void (stderr += t),
    // No SYNC_* from the developer's shell leaks into a test.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...opts.env },
    cwd: opts.cwd ?? process.cwd(),
    now: () => opts.now ?? new Date(),
    confirm: async () => (opts.confirm === undefined ? null : opts.confirm),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr, json: () => JSON.parse(stdout) };
}

/** The compiled server as a child process with the admin API on. */
export async function startServer(extra: Record<string, string> = {}) {
  const dataDir = tmpDir("ops-data-");
  const { child, port } = await spawnServer(dataDir, { SYNC_ADMIN_TOKEN: ADMIN, SYNC_LOG_LEVEL: "info", ...extra });
  return { child, port, dataDir, ws: `ws://127.0.0.1:${port}/ws`, stop: () => stop(child) };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  await exited(child);
}

export async function seed(url: string, n: number, from = 0): Promise<void> {
  const c = await Client.connect(url, "seeder");
  for (let i = from; i < from + n; i++) await c.transact(`s${i}`, [{ "block/uid": `b${i}`, "block/string": `text ${i}`, "block/order": i }]);
  await c.close();
}

/** What a fresh client sees: the server's datoms and t. */
export async function serverView(url: string): Promise<{ datoms: string[]; t: number }> {
  const c = await Client.connect(url, "viewer");
  const synced = await c.next((m) => m.type === "synced");
  const datoms = clientView(c.messages);
  await c.close();
  return { datoms, t: synced.t as number };
}

/**
 * A directory of fake executables: each records its argv (one JSON line per call) in
 * <dir>/<name>.calls and prints `stdout`, exiting with `code`.
 */
export function fakeTools(tools: Record<string, { stdout?: string; code?: number }>): { dir: string; calls: (name: string) => string[][]; cwds: (name: string) => string[] } {
  const dir = tmpDir("ops-bin-");
  for (const [name, t] of Object.entries(tools)) {
    const out = path.join(dir, `${name}.out`);
    fs.writeFileSync(out, t.stdout ?? "");
    fs.writeFileSync(
      path.join(dir, name),
      `#!${process.execPath}\nconst fs = require("node:fs");\nfs.appendFileSync(${JSON.stringify(path.join(dir, `${name}.calls`))}, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd() }) + "\\n");\nprocess.stdout.write(fs.readFileSync(${JSON.stringify(out)}));\nprocess.exitCode = ${t.code ?? 0};\n`,
      { mode: 0o755 },
    );
  }
  const records = (name: string) => {
    const file = path.join(dir, `${name}.calls`);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { argv: string[]; cwd: string }) : [];
  };
  return { dir, calls: (name) => records(name).map((r) => r.argv), cwds: (name) => records(name).map((r) => r.cwd) };
}
