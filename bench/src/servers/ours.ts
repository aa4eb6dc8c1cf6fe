/**
 * Our server, built from a checkout's server/ and run exactly as in production
 * (`node dist/server/src/main.js`), with its durability untouched: WAL,
 * synchronous=FULL, an fsync per group commit before any ack. Only what a benchmark must
 * change is set, all through the server's documented environment (README, "Server
 * environment"): loopback only, no token (SYNC_INSECURE_NO_AUTH, loopback), limits raised
 * so the harness is never throttled (the per-IP and pre-hello caps too: every client is 127.0.0.1), scheduled backups off (a backup is not part of the
 * workload). Snapshots keep their default schedule: they are part of the write path.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { freePort, type ServerUnderTest, spawnServer } from "./server.ts";

export interface OursOptions {
  /** A checkout of this repository (its server/ and protocol/). */
  readonly repoDir: string;
  /** Extra SYNC_* variables, e.g. a limit a newer server added. */
  readonly extraEnv: Readonly<Record<string, string>>;
  readonly maxConnections: number;
}

/** The newest modification time of the files under dir (0 if none). */
function newest(dir: string): number {
  let max = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) max = Math.max(max, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return max;
}

/**
 * Builds server/ (its own `npm run build`, tsc) unless its build is newer than every
 * source it compiles; throws with the compiler's output when it fails. Returns whether
 * it compiled.
 */
export function buildOurs(repoDir: string): boolean {
  const serverDir = path.join(repoDir, "server");
  if (!fs.existsSync(path.join(serverDir, "node_modules"))) {
    throw new Error(`${serverDir}/node_modules is missing: run \`npm ci --prefix ${serverDir}\` first`);
  }
  const main = path.join(serverDir, "dist", "server", "src", "main.js");
  const sources = Math.max(newest(path.join(serverDir, "src")), newest(path.join(repoDir, "protocol", "src")));
  if (fs.existsSync(main) && fs.statSync(main).mtimeMs > sources) return false;
  const built = spawnSync("npm", ["run", "--silent", "build"], { cwd: serverDir, encoding: "utf8" });
  if (built.status !== 0) throw new Error(`building ${serverDir} failed:\n${built.stdout}${built.stderr}`);
  return true;
}

/** The protocol version the built server speaks, from its own build of protocol/src. */
function protocolVersion(repoDir: string): number {
  const frames = path.join(repoDir, "server", "dist", "protocol", "src", "frames.js");
  const version = (createRequire(import.meta.url)(frames) as { PROTOCOL_VERSION?: unknown }).PROTOCOL_VERSION;
  if (typeof version !== "number") throw new Error(`${frames} exports no PROTOCOL_VERSION`);
  return version;
}

export async function startOurs(options: OursOptions): Promise<ServerUnderTest> {
  const serverDir = path.join(options.repoDir, "server");
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), "sync-bench-ours-"));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("SYNC_")));
  Object.assign(env, {
    SYNC_HOST: "127.0.0.1",
    SYNC_PORT: String(port),
    SYNC_DATA_DIR: path.join(tempDir, "data"),
    SYNC_INSECURE_NO_AUTH: "1",
    SYNC_LOG_LEVEL: "warn",
    SYNC_MAX_CONNECTIONS: String(options.maxConnections),
    // Every benchmark client connects from 127.0.0.1, as many at once as --connect-concurrency.
    SYNC_MAX_CONNECTIONS_PER_IP: String(options.maxConnections),
    SYNC_MAX_PRE_HELLO_CONNECTIONS: String(options.maxConnections),
    SYNC_RATE_LIMIT: "1000000",
    SYNC_BACKUP_INTERVAL: "off",
    ...options.extraEnv,
  });
  return spawnServer({
    label: "ours",
    kind: "ours",
    args: [path.join(serverDir, "dist", "server", "src", "main.js")],
    env,
    cwd: serverDir,
    url: `ws://127.0.0.1:${port}/ws`,
    readyUrl: `http://127.0.0.1:${port}/readyz`,
    protocol: protocolVersion(options.repoDir),
    logFile: path.join(tempDir, "server.log"),
    tempDir,
  });
}
