import { spawn } from "node:child_process";
import fs from "node:fs";
import { z } from "zod";
import { CliError, Exit } from "./exit-codes";

/**
 * A deployment as the CLI sees it: the stack outputs the package exports (index.ts,
 * components/contract.ts SyncServerOutputs), plus what reaching the VM needs. Only `url`
 * is required; each command says which others it needs and how to supply them.
 */
const Cloud = z.enum(["aws", "gcp", "digitalocean", "docker"]);
export const StackOutputsSchema = z.looseObject({
  /** The stack's cloud: templates export `cloud`; the project's own index.ts exports `provider` too. */
  cloud: Cloud.optional(),
  provider: Cloud.optional(),
  /** wss://<hostname>/ws */
  url: z.string().regex(/^(wss?|https?):\/\//, "must be a ws://, wss://, http:// or https:// URL"),
  hostname: z.string().optional(),
  ip: z.string().optional(),
  volumeId: z.string().optional(),
  token: z.string().optional(),
  adminToken: z.string().optional(),
  image: z.string().optional(),
  /** AWS: the EC2 instance id and its region (for SSM). */
  instanceId: z.string().optional(),
  region: z.string().optional(),
  /** GCP: the instance's name, zone and project (for IAP SSH). */
  instanceName: z.string().optional(),
  zone: z.string().optional(),
  project: z.string().optional(),
  /** Docker: the server container's name. */
  container: z.string().optional(),
}).transform((o) => ({ ...o, provider: o.provider ?? o.cloud }));
export type StackOutputs = z.infer<typeof StackOutputsSchema>;

/** Where the outputs came from, for messages. */
export interface Deployment {
  readonly outputs: StackOutputs;
  readonly source: string;
}

export interface SourceFlags {
  readonly stack?: string;
  readonly cwd?: string;
  readonly outputs?: string;
  readonly url?: string;
  readonly token?: string;
  readonly adminToken?: string;
}

/**
 * What `pulumi stack output --json` prints in place of a secret when `--show-secrets` is
 * missing (display.MassageSecrets in pulumi/pulumi pkg/cmd/pulumi/stack/stack_output.go).
 */
const SECRET_PLACEHOLDER = "[secret]";

function parseOutputs(raw: unknown, source: string): StackOutputs {
  const parsed = StackOutputsSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CliError(Exit.CONFIG, "bad_outputs", `${source}: output "${issue.path.join(".") || "(root)"}" ${issue.message}`);
  }
  for (const [key, value] of Object.entries(parsed.data)) {
    if (value === SECRET_PLACEHOLDER) throw new CliError(Exit.CONFIG, "secret_hidden", `${source}: output "${key}" is "[secret]"; save the outputs with \`pulumi stack output --json --show-secrets\``);
  }
  return parsed.data;
}

/**
 * Runs `pulumi stack output --json --show-secrets [--stack S]` in cwd (flags from
 * pulumi/pulumi pkg/cmd/pulumi/stack/stack_output.go: --json/-j, --show-secrets, --stack/-s).
 * The CLI's own login and secrets provider apply, so no cloud console or extra credential.
 */
export function pulumiOutputs(stack: string | undefined, cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<unknown> {
  const argv = ["stack", "output", "--json", "--show-secrets", ...(stack ? ["--stack", stack] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn("pulumi", argv, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "ENOENT"
          ? new CliError(Exit.TOOL_MISSING, "pulumi_missing", "the pulumi CLI is not on PATH (https://www.pulumi.com/docs/install/); or pass --outputs FILE, or --url with --token/--admin-token")
          : e,
      ),
    );
    child.once("close", (code) => {
      if (code !== 0) return reject(new CliError(Exit.CONFIG, "pulumi_failed", `pulumi stack output failed (exit ${code}): ${err.trim().split("\n").slice(-3).join(" ") || "no message"}`));
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new CliError(Exit.CONFIG, "pulumi_output", "pulumi stack output --json printed something that is not JSON"));
      }
    });
  });
}

/**
 * The deployment from, in order: --url (with --token/--admin-token), --outputs FILE, or the
 * current Pulumi stack. Flags and SYNC_TOKEN / SYNC_ADMIN_TOKEN in the environment override
 * the tokens from outputs (environment rather than flags keeps them out of `ps`).
 */
export async function loadDeployment(flags: SourceFlags, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<Deployment> {
  let outputs: StackOutputs;
  let source: string;
  if (flags.url) {
    source = "--url";
    outputs = parseOutputs({ url: flags.url }, source);
  } else if (flags.outputs) {
    source = flags.outputs;
    let text: string;
    try {
      text = fs.readFileSync(flags.outputs, "utf8");
    } catch (err) {
      throw new CliError(Exit.CONFIG, "outputs_unreadable", `cannot read --outputs ${flags.outputs}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new CliError(Exit.CONFIG, "outputs_not_json", `--outputs ${flags.outputs} is not JSON; save it with \`pulumi stack output --json --show-secrets > ${flags.outputs}\``);
    }
    outputs = parseOutputs(raw, source);
  } else {
    source = `pulumi stack${flags.stack ? ` ${flags.stack}` : ""}`;
    outputs = parseOutputs(await pulumiOutputs(flags.stack, flags.cwd ?? cwd, env), source);
  }
  const token = flags.token ?? env.SYNC_TOKEN ?? outputs.token;
  const adminToken = flags.adminToken ?? env.SYNC_ADMIN_TOKEN ?? outputs.adminToken;
  return { source, outputs: { ...outputs, ...(token ? { token } : {}), ...(adminToken ? { adminToken } : {}) } };
}

/** The https:// (or http://) origin behind a ws(s):// url. */
export function httpOrigin(url: string): URL {
  const u = new URL(url);
  if (u.protocol === "wss:") u.protocol = "https:";
  if (u.protocol === "ws:") u.protocol = "http:";
  return new URL(u.origin);
}

export function requireAdminToken(d: Deployment): string {
  if (!d.outputs.adminToken) {
    throw new CliError(Exit.CONFIG, "no_admin_token", `no admin token: ${d.source} has no "adminToken" output; pass --admin-token or set SYNC_ADMIN_TOKEN`);
  }
  return d.outputs.adminToken;
}

/** `pulumi stack --show-name`: the selected stack's name (for names derived from it). */
export function pulumiStackName(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  return new Promise((resolve) => {
    const child = spawn("pulumi", ["stack", "--show-name"], { cwd, env, stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.once("error", () => resolve(null));
    child.once("close", (code) => resolve(code === 0 && out.trim() ? out.trim() : null));
  });
}
