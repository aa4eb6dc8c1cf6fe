import fs from "node:fs";
import path from "node:path";
import type { ChildProcess } from "node:child_process";
import WebSocket from "ws";
import { Client, TOKEN, clientView, exited, spawnServer, tmpDir } from "../../server/test/helpers";
import { type ConnectOptions, type SyncClient, connect } from "../src";
import type { WebSocketConstructor } from "../src/transport";

export { TOKEN, tmpDir, exited };
export const TX0 = 536870912;

/** A real server process on a fixed port, so clients can reconnect to the same URL across restarts. */
export class ServerProcess {
  child!: ChildProcess;
  port = 0;
  output: () => string = () => "";
  constructor(
    readonly dataDir = tmpDir("client-test-"),
    private readonly extra: Record<string, string> = {},
  ) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  async start(): Promise<this> {
    const started = await spawnServer(this.dataDir, { ...this.extra, SYNC_PORT: String(this.port) });
    Object.assign(this, { child: started.child, port: started.port, output: started.output });
    return this;
  }

  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const done = exited(this.child);
    this.child.kill(signal);
    await done;
  }

  async metric(name: string, label = ""): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${this.port}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}${label}`) && !l.startsWith("#"));
    return line ? Number(line.split(" ").pop()) : 0;
  }

  /** The server's datoms as sorted "[e,a,v]" strings, read by a fresh raw connection. */
  async facts(): Promise<string[]> {
    const raw = await Client.connect(this.url, "observer");
    const view = clientView(raw.messages);
    await raw.close();
    return view;
  }
}

export function replicaFacts(client: SyncClient): string[] {
  return client
    .datoms()
    .map(([e, a, v]) => JSON.stringify([e, a, v]))
    .sort();
}

export function client(url: string, name: string, extra: Partial<ConnectOptions> = {}): SyncClient {
  return connect({ url, token: TOKEN, name, WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { baseMs: 50, maxMs: 400 }, ...extra });
}

/** A client that went live and then lost its server (kill -9): what it makes now waits in its queue. */
export async function stranded(server: ServerProcess, name: string, extra: Partial<ConnectOptions> = {}): Promise<SyncClient> {
  const c = client(server.url, name, extra);
  await c.whenLive();
  await server.kill("SIGKILL");
  await waitFor("offline", () => c.status === "offline");
  return c;
}

export async function waitFor(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A seeded PRNG (mulberry32), so a failing property run can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function cleanup(dir: string): void {
  fs.rmSync(path.resolve(dir), { recursive: true, force: true });
}
