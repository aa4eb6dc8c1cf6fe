import { spawn } from "node:child_process";
import os from "node:os";
import type { Ctx } from "../context";
import { CliError, Exit } from "../exit-codes";
import { pulumiStackName, type StackOutputs } from "../outputs";
import { remoteArgv, type RemoteTarget } from "../remote";

const INSTALL_HINT: Record<string, string> = {
  aws: "install the AWS CLI and its Session Manager plugin (https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html)",
  gcloud: "install the Google Cloud CLI (https://cloud.google.com/sdk/docs/install)",
  ssh: "install an OpenSSH client",
  docker: "install Docker (https://docs.docker.com/engine/install/)",
};

async function target(ctx: Ctx): Promise<RemoteTarget> {
  const o: StackOutputs = (await ctx.deployment()).outputs;
  const provider = (ctx.str("provider") ?? o.provider) as RemoteTarget["provider"];
  if (provider !== undefined && !["aws", "gcp", "digitalocean", "docker"].includes(provider)) throw new CliError(Exit.USAGE, "bad_provider", `--provider ${provider}: use aws, gcp, digitalocean or docker`);
  let container = ctx.str("container") ?? o.container;
  if (provider === "docker" && !container) {
    // The docker provider names the server container <stack>-sync-server (components/docker).
    const stack = ctx.str("stack") ?? (await pulumiStackName(ctx.str("cwd") ?? ctx.io.cwd, ctx.io.env));
    if (stack) container = `${stack}-sync-server`;
  }
  return {
    provider,
    instance: ctx.str("instance") ?? (provider === "aws" ? o.instanceId : o.instanceName),
    region: ctx.str("region") ?? o.region,
    zone: ctx.str("zone") ?? o.zone,
    project: ctx.str("project") ?? o.project,
    ip: ctx.str("ip") ?? o.ip,
    container,
  };
}

/** Runs argv with the terminal attached; resolves with its exit code. */
export function runAttached(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit", env });
    child.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "ENOENT" ? new CliError(Exit.TOOL_MISSING, "tool_missing", `${argv[0]} is not on PATH: ${INSTALL_HINT[argv[0]!] ?? `install ${argv[0]}`}`) : err),
    );
    child.once("close", (code, signal) => resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0)));
  });
}

/** `logs [--follow] [--tail N]` and `shell`: spawn the cloud's own tool; its exit code is ours. */
export async function vm(ctx: Ctx, action: "logs" | "shell"): Promise<number> {
  const tail = ctx.str("tail");
  if (tail !== undefined && !/^\d+$/.test(tail)) throw new CliError(Exit.USAGE, "bad_tail", `--tail ${tail}: a number of lines`);
  const argv = remoteArgv(action, await target(ctx), { follow: ctx.flags.follow === true, tail: tail === undefined ? undefined : Number(tail) });
  if (ctx.flags["dry-run"] === true) {
    ctx.print({ argv }, () => [argv.map(shellQuote).join(" ")]);
    return Exit.OK;
  }
  return runAttached(argv, ctx.io.env);
}

/** POSIX shell quoting, so a printed command can be pasted as is. */
function shellQuote(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return "'" + arg.split("'").join("'\\''") + "'";
}
