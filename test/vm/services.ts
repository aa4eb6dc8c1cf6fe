/**
 * The apt cache the guest installs from: Debian's apt-cacher-ng (scripts/vm/apt-cache.sh),
 * on this host's loopback only, with its own cache directory (kept between runs). It
 * fetches from Debian's mirrors itself. The suite stops and starts it to make the apt
 * cache "down" during a boot.
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export class AptCache {
  private child?: ChildProcess;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  async start(): Promise<void> {
    if (this.child) return;
    if (await portOpen(this.port)) throw new Error(`port ${this.port} is taken on 127.0.0.1; set VM_APT_PORT to a free one`);
    // scripts/vm/apt-cache.sh: one home for how the cache runs (the image build uses it too).
    fs.mkdirSync(path.join(this.dir, "log"), { recursive: true });
    const log = (name: string) => fs.openSync(path.join(this.dir, "log", name), "a");
    const child = spawn("bash", [path.join(__dirname, "..", "..", "scripts", "vm", "apt-cache.sh"), String(this.port), this.dir], { stdio: ["ignore", log("stdout.log"), log("stderr.log")] });
    this.child = child;
    child.once("exit", () => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + 30_000;
    while (!(await portOpen(this.port))) {
      if (!this.child) throw new Error(`apt-cacher-ng exited at start; see ${this.dir}/log`);
      if (Date.now() > deadline) throw new Error(`apt-cacher-ng did not listen on 127.0.0.1:${this.port} within 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
    if (child.exitCode === null) child.kill("SIGKILL");
  }

  get up(): boolean {
    return this.child !== undefined;
  }
}
