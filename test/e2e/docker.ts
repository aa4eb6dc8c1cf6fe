import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";

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
  await sh("bash", ["scripts/docker-build.sh", "-q", "--build-arg", `NODE_IMAGE=${nodeImage}`, "--build-arg", `BUILD_LABEL=${label}`, "-t", tag, "-f", "server/Dockerfile", "."]);
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
