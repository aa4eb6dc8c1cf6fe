/**
 * A server under test, run as a real child process. The harness never shares an event
 * loop with it: the orchestrator and the client processes are other processes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import type { EditMode } from "../clients/hocuspocus.ts";
import type { ServerKind } from "../ipc.ts";
import { cpuMs, rssBytes } from "./proc.ts";

export interface ServerUnderTest {
  /** Short name for tables: "ours", "hocuspocus (memory)", ... */
  readonly label: string;
  readonly kind: ServerKind;
  /** Where clients connect. */
  readonly url: string;
  /** Our protocol version (ours only). */
  readonly protocol: number;
  /** What its writers' edits do to their text (hocuspocus only; ours replaces a block's string). */
  readonly hocuspocusEdit: EditMode;
  readonly pid: number;
  rss(): number;
  cpuMs(): number;
  stop(): Promise<void>;
}

/** A free loopback port: bind port 0, read it, release it. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface SpawnSpec {
  readonly label: string;
  readonly kind: ServerKind;
  readonly args: string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly url: string;
  readonly readyUrl: string;
  readonly protocol: number;
  readonly hocuspocusEdit?: EditMode;
  /** The server's stdout and stderr go here; its tail is shown if it fails. */
  readonly logFile: string;
  /** Removed after stop. */
  readonly tempDir: string;
}

/** Starts `node <args>` and waits (at most 30 s) until readyUrl answers 200. */
export async function spawnServer(spec: SpawnSpec): Promise<ServerUnderTest> {
  const log = fs.openSync(spec.logFile, "w");
  const child: ChildProcess = spawn(process.execPath, spec.args, { cwd: spec.cwd, env: spec.env, stdio: ["ignore", log, log] });
  fs.closeSync(log);
  let exited: string | null = null;
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exited = `exited with ${signal ?? code}`;
      resolve();
    }),
  );
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited) throw new Error(`${spec.label} ${exited} while starting:\n${tail(spec.logFile)}`);
    if (await answers(spec.readyUrl)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${spec.label} did not answer ${spec.readyUrl} within 30 s:\n${tail(spec.logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = child.pid!;
  return {
    label: spec.label,
    kind: spec.kind,
    url: spec.url,
    protocol: spec.protocol,
    hocuspocusEdit: spec.hocuspocusEdit ?? "replace",
    pid,
    rss: () => rssBytes(pid),
    cpuMs: () => cpuMs(pid),
    async stop() {
      if (!exited) {
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exit;
        clearTimeout(killer);
      }
      fs.rmSync(spec.tempDir, { recursive: true, force: true });
    },
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, "utf8").split("\n").slice(-30).join("\n");
  } catch {
    return "(no log)";
  }
}
