/**
 * The client processes of one run and the request/report choreography with them.
 * Every wait has a deadline; a report of failure from any process fails the run.
 */
import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { nowMs } from "./clock.ts";
import type { Command, Report } from "./ipc.ts";

/** lib0 (under yjs) probes globalThis.localStorage, which Node 26 answers with an ExperimentalWarning. */
export const QUIET = ["--disable-warning=ExperimentalWarning"];

const CLIENT_PROCESS = fileURLToPath(new URL("./clients/process.ts", import.meta.url));

export class RunFailed extends Error {
  override readonly name = "RunFailed";
}

type ReportOf<E extends Report["ev"]> = Extract<Report, { ev: E }>;

export class ClientPool {
  private readonly children: ChildProcess[];
  private readonly inboxes: Report[][];
  private failure: string | null = null;
  private wake: (() => void) | null = null;
  private closing = false;

  private constructor(children: ChildProcess[]) {
    this.children = children;
    this.inboxes = children.map(() => []);
    children.forEach((child, i) => {
      child.on("message", (report: Report) => {
        if (report.ev === "failed") this.failure ??= report.errors.join("\n");
        else this.inboxes[i]!.push(report);
        this.wake?.();
      });
      child.on("exit", (code, signal) => {
        if (!this.closing) this.failure ??= `client process ${i} exited (${signal ?? code})`;
        this.wake?.();
      });
    });
  }

  /** Starts the processes and waits (at most 60 s) until each has loaded and is listening. */
  static async start(processes: number): Promise<ClientPool> {
    const children = Array.from({ length: processes }, () =>
      fork(CLIENT_PROCESS, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], serialization: "advanced", execArgv: QUIET }),
    );
    const pool = new ClientPool(children);
    try {
      await pool.gather("ready", nowMs() + 60_000, "starting client processes");
    } catch (err) {
      await pool.close();
      throw err;
    }
    return pool;
  }

  get size(): number {
    return this.children.length;
  }

  send(i: number, cmd: Command): void {
    this.children[i]!.send(cmd);
  }

  sendAll(cmd: Command): void {
    for (let i = 0; i < this.children.length; i++) this.send(i, cmd);
  }

  /** One report of kind `ev` from every process, by the deadline. */
  async gather<E extends Report["ev"]>(ev: E, deadlineAt: number, what: string): Promise<Array<ReportOf<E>>> {
    for (;;) {
      if (this.failure) throw new RunFailed(`${what}: ${this.failure}`);
      if (this.inboxes.every((inbox) => inbox.some((r) => r.ev === ev))) {
        return this.inboxes.map((inbox) => {
          const at = inbox.findIndex((r) => r.ev === ev);
          return inbox.splice(at, 1)[0] as ReportOf<E>;
        });
      }
      const left = deadlineAt - nowMs();
      if (left <= 0) throw new RunFailed(`${what}: no answer from the clients within the deadline`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** Closes every client socket (bounded), then ends the processes. */
  async close(): Promise<void> {
    this.closing = true;
    const exited = this.children.map((child) =>
      child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once("exit", () => resolve())),
    );
    for (const child of this.children) if (child.connected) child.send({ cmd: "close" } satisfies Command);
    const timer = setTimeout(() => {
      for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }, 15_000);
    await Promise.all(exited);
    clearTimeout(timer);
  }
}
