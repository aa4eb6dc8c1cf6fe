import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import WebSocket from "ws";

const exec = promisify(execFile);
export const REPO = path.join(__dirname, "..", "..");

export async function sh(cmd: string, args: string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { cwd: REPO, maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 600_000 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`);
  }
}

/** Fails loudly (never skips) when no Docker engine answers. */
export async function requireEngine(): Promise<void> {
  try {
    await sh("docker", ["info", "--format", "{{.ServerVersion}}"], { timeoutMs: 20_000 });
  } catch (err) {
    throw new Error(`the e2e suite needs a running Docker engine (scripts/docker-engine.sh starts one): ${(err as Error).message}`);
  }
}

export async function buildServerImage(tag: string, label: string): Promise<string> {
  const nodeImage = process.env.E2E_NODE_IMAGE;
  if (!nodeImage) throw new Error("E2E_NODE_IMAGE is not set; run the suite with `npm run test:e2e`");
  await sh("docker", ["build", "-q", "--build-arg", `NODE_IMAGE=${nodeImage}`, "--build-arg", `BUILD_LABEL=${label}`, "-t", tag, "server"]);
  return sh("docker", ["image", "inspect", "--format", "{{.Id}}", tag]);
}

export class Compose {
  constructor(
    readonly project: string,
    readonly file: string,
  ) {}
  run(...args: string[]) {
    return sh("docker-compose", ["-p", this.project, "-f", this.file, ...args]);
  }
  async container(service: string): Promise<string> {
    return (await this.run("ps", "-q", service)).split("\n")[0]!;
  }
}

export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Msg = Record<string, any>;

/** A wss:// client that trusts Caddy's local CA and records every frame. */
export class WssClient {
  readonly ws: WebSocket;
  readonly messages: Msg[] = [];
  readonly closed: Promise<number>;
  private waiters: Array<() => void> = [];

  private constructor(url: string, token: string, ca: string) {
    this.ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, ca: fs.readFileSync(ca) });
    this.closed = new Promise((resolve) => this.ws.once("close", (code) => resolve(code)));
    this.ws.on("error", () => undefined);
    this.ws.on("message", (d) => {
      this.messages.push(JSON.parse(d.toString()) as Msg);
      for (const w of this.waiters.splice(0)) w();
    });
    this.ws.on("close", () => {
      for (const w of this.waiters.splice(0)) w();
    });
  }

  static async connect(url: string, token: string, ca: string, name: string, since?: number): Promise<WssClient> {
    const c = new WssClient(url, token, ca);
    await new Promise((resolve, reject) => c.ws.once("open", resolve).once("error", reject));
    c.send({ type: "hello", protocol: 1, name, ...(since === undefined ? {} : { since }) });
    await c.next((m) => m.type === "synced");
    return c;
  }

  send(msg: unknown) {
    this.ws.send(JSON.stringify(msg));
  }

  async next(pred: (m: Msg) => boolean, timeoutMs = 30_000): Promise<Msg> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed; last frames ${JSON.stringify(this.messages.slice(-3))}`);
      if (Date.now() > deadline) throw new Error(`timed out; last frames ${JSON.stringify(this.messages.slice(-3))}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 250);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async transact(id: string, tx: unknown[]): Promise<Msg> {
    this.send({ type: "transact", id, tx });
    return this.next((m) => (m.type === "ack" || m.type === "rejected") && m.id === id);
  }

  lastT(): number {
    return Math.max(0, ...this.messages.filter((m) => m.type === "tx" || m.type === "snapshot" || m.type === "synced").map((m) => m.t as number));
  }
}
