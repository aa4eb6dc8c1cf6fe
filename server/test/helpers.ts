import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { loadConfig } from "../src/config";
import { silentLogger } from "../src/logger";
import { decodeTxsFrame, PROTOCOL_VERSION, SCHEMA, type WireDatom } from "../../protocol/src";
import { SyncServer } from "../src/server";

export const TOKEN = "test-token-0123456789abcdef";
/** Compiled server: tsc keeps the repo layout under dist/ because protocol/ lives beside server/. */
export const DIST = path.join(__dirname, "..", "dist", "server", "src");

/** Polls pred every 10 ms until it holds; throws, naming `what`, after timeoutMs (the client's tests have the same). */
export async function waitFor(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The longest gap between 5 ms timer ticks while `work` runs: how long this process's
 * event loop was held (a server started in this process included).
 */
export async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 5);
  try {
    await work();
  } finally {
    clearInterval(tick);
  }
  // A stall that ends with the work (its last synchronous stretch) has no tick after it.
  return Math.max(longest, performance.now() - last);
}

export function tmpDir(prefix = "sync-test-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function env(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { SYNC_DATA_DIR: dataDir, SYNC_PORT: "0", SYNC_HOST: "127.0.0.1", SYNC_TOKEN: TOKEN, SYNC_BACKUP_INTERVAL: "0", SYNC_LOG_LEVEL: "silent", ...extra };
}

export async function startServer(dataDir = tmpDir(), extra: Record<string, string> = {}) {
  const server = new SyncServer(loadConfig(env(dataDir, extra)), { logger: silentLogger, version: "test" });
  const { port } = await server.start();
  return { server, port, dataDir, url: `ws://127.0.0.1:${port}/ws` };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>;

export interface ClientOptions {
  /** Access token; TOKEN by default, null for none. */
  readonly token?: string | null;
  /** Send the token as ?token= instead of a header. */
  readonly query?: boolean;
  /** false: never answer pings, like a peer that vanished. */
  readonly autoPong?: boolean;
  /** Extra trusted CA (Caddy's local root for wss:// in the e2e suite). */
  readonly ca?: Buffer;
}

/**
 * A real WebSocket client that records every frame and close code. `frames` holds what
 * arrived on the wire; `messages` is the same with each `txs` frame unpacked into one
 * `{type: "tx", ...}` per transaction, which is what most tests reason about.
 */
export class Client {
  readonly ws: WebSocket;
  readonly frames: Msg[] = [];
  readonly messages: Msg[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: Array<() => void> = [];

  constructor(url: string, opts: ClientOptions = {}) {
    const token = opts.token === undefined ? TOKEN : opts.token;
    const target = token && opts.query ? `${url}?token=${encodeURIComponent(token)}` : url;
    this.ws = new WebSocket(target, { headers: token && !opts.query ? { authorization: `Bearer ${token}` } : {}, autoPong: opts.autoPong ?? true, ca: opts.ca });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.closed = new Promise((resolve) => this.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on("error", () => undefined);
    this.ws.on("message", (data) => {
      const frame = JSON.parse(data.toString()) as Msg;
      this.frames.push(frame);
      // Each datom with its tx again ([e, a, v, t, added]): what most tests compare with the log.
      if (frame.type === "txs") for (const tx of decodeTxsFrame(frame)) this.messages.push({ type: "tx", ...tx, datoms: withTx(tx.t, tx.datoms) });
      else this.messages.push(frame);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.ws.on("close", () => {
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static async connect(url: string, name = "alice", hello: Msg = {}, opts: ClientOptions = {}): Promise<Client> {
    const client = new Client(url, opts);
    await client.opened;
    client.send({ type: "hello", protocol: PROTOCOL_VERSION, name, ...hello });
    await client.next((m) => m.type === "synced");
    return client;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === "string" ? msg : JSON.stringify(msg));
  }

  /** The first recorded message (from `from` on) matching pred; waits for it. */
  async next(pred: (m: Msg) => boolean, timeoutMs = 10_000, from = 0): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.slice(from).find(pred);
      if (found) return found;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed before a matching message; got ${JSON.stringify(this.messages.slice(-5))}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; last messages ${JSON.stringify(this.messages.slice(-5))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a transaction and waits for its ack or rejection. */
  async transact(id: string, tx: unknown[]): Promise<Msg> {
    this.send({ type: "transact", id, tx });
    return this.next((m) => (m.type === "ack" || m.type === "rejected") && m.id === id);
  }

  close(): Promise<{ code: number; reason: string }> {
    this.ws.close();
    return this.closed;
  }
}

/** A `txs` frame's datoms ([e, a, v] or [e, a, v, false]) as [e, a, v, t, added]. */
export function withTx(t: number, datoms: unknown[][]): WireDatom[] {
  return datoms.map(([e, a, v, retracted]) => [e, a, v, t, retracted !== false] as WireDatom);
}

/**
 * The datoms a client holds after applying snapshot and tx frames, as a sorted set of "e|a|v".
 * A snapshot comes in chunks: the first snapshot frame after anything else starts a new one.
 */
export function clientView(messages: Msg[]): string[] {
  // "e|a" -> the JSON of each [e, a, v] held: a cardinality-one assertion replaces what its "e|a" holds.
  const facts = new Map<string, Set<string>>();
  const add = (e: unknown, a: string, v: unknown) => {
    const ea = JSON.stringify([e, a]);
    if (!facts.has(ea)) facts.set(ea, new Set());
    facts.get(ea)!.add(JSON.stringify([e, a, v]));
  };
  let previous = "";
  for (const m of messages) {
    if (m.type === "snapshot") {
      if (previous !== "snapshot") facts.clear();
      for (const [e, a, v] of m.datoms) add(e, a, v);
    }
    if (m.type === "tx") {
      for (const [e, a, v, , added] of m.datoms) {
        // An assertion of a cardinality-one attribute replaces its value (the retraction is implied on the wire).
        if (added && SCHEMA[a]?.many !== true) facts.delete(JSON.stringify([e, a]));
        if (added) add(e, a, v);
        else facts.get(JSON.stringify([e, a]))?.delete(JSON.stringify([e, a, v]));
      }
    }
    previous = m.type;
  }
  return [...facts.values()].flatMap((set) => [...set]).sort();
}

/** Spawns the compiled server as a child process; resolves once it listens. */
export function spawnServer(dataDir: string, extra: Record<string, string> = {}): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, [path.join(DIST, "main.js")], {
    env: { ...process.env, ...env(dataDir, { SYNC_LOG_LEVEL: "info", ...extra }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"msg":"listening"/.test(out) && /"port":(\d+)/.exec(out);
      if (match) resolve({ child, port: Number(match[1]), output: () => out });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => (out += c.toString()));
    child.once("exit", (code) => reject(new Error(`server exited with ${code} before listening:\n${out}`)));
  });
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** Writes n blocks (b<i>, "text <i>", order i), one transaction each, as client "seeder". */
export async function seedBlocks(url: string, n: number, from = 0): Promise<void> {
  const c = await Client.connect(url, "seeder");
  for (let i = from; i < from + n; i++) await c.transact(`s${i}`, [{ "block/uid": `b${i}`, "block/string": `text ${i}`, "block/order": i }]);
  await c.close();
}

/** What a fresh client sees of the db (clientView of its catch-up). */
export async function viewOf(url: string): Promise<string[]> {
  const c = await Client.connect(url, "viewer");
  const v = clientView(c.messages);
  await c.close();
  return v;
}

/** The admin token the restore tests start their servers with. */
export const ADMIN_TOKEN = "admin-token-0123456789abcdef0123456789";

/** One admin API request on its own connection, with the admin token. */
export function adminRequest(port: number, method: string, p: string, body?: Buffer): Promise<{ status: number; body: Buffer; json: () => any }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_TOKEN}` };
    if (body) headers["content-length"] = String(body.length);
    const req = http.request({ host: "127.0.0.1", port, method, path: p, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("end", () => {
        const b = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, body: b, json: () => JSON.parse(b.toString()) });
      });
      res.once("error", reject);
    });
    req.once("error", reject);
    req.end(body);
  });
}

/** mulberry32: a small seeded PRNG, so a failing random case can be replayed. */
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
