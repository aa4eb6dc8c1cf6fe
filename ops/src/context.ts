import type { AdminTarget } from "./admin-client";
import { parseDuration } from "./args";
import { type Deployment, httpOrigin, loadDeployment, requireAdminToken } from "./outputs";

/** The outside world, injected so tests can run commands in-process. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** The clock (certificate expiry is judged against it). */
  now(): Date;
  /** Asks yes/no on a terminal; null when there is none (scripts must pass --yes). */
  confirm(question: string): Promise<boolean | null>;
}

export type Flags = Record<string, string | true>;

/** What every command gets: its flags, output mode and lazy access to the deployment. */
export class Ctx {
  private loaded?: Promise<Deployment>;
  readonly json: boolean;
  readonly timeoutMs: number;

  constructor(
    readonly io: Io,
    readonly flags: Flags,
    readonly positional: string[],
  ) {
    this.json = flags.json === true;
    this.timeoutMs = typeof flags.timeout === "string" ? parseDuration(flags.timeout, "timeout") : 15_000;
  }

  str(name: string): string | undefined {
    const v = this.flags[name];
    return typeof v === "string" ? v : undefined;
  }

  deployment(): Promise<Deployment> {
    this.loaded ??= loadDeployment(
      { stack: this.str("stack"), cwd: this.str("cwd"), outputs: this.str("outputs"), url: this.str("url"), token: this.str("token"), adminToken: this.str("admin-token") },
      this.io.env,
      this.io.cwd,
    );
    return this.loaded;
  }

  async admin(): Promise<AdminTarget> {
    const d = await this.deployment();
    return { origin: httpOrigin(d.outputs.url), token: requireAdminToken(d), ca: this.str("ca"), timeoutMs: this.timeoutMs };
  }

  /** Prints the command's result: JSON on --json, else the human lines. */
  print(result: unknown, human: () => string[]): void {
    if (this.json) this.io.out(`${JSON.stringify(result, null, 2)}\n`);
    else this.io.out(`${human().join("\n")}\n`);
  }

  /** Progress for humans, on stderr so --json stdout stays one document. */
  note(text: string): void {
    this.io.err(`${text}\n`);
  }
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "unknown";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
