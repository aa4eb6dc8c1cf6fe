import { COMPOSE_WRAPPER } from "../../components/render/cloud-init";
import { COMPOSE_FILE } from "../../components/render/compose";
import { CliError, Exit } from "./exit-codes";
import type { StackOutputs } from "./outputs";

/** The compose project the VM's stack unit runs (components/render/cloud-init.ts: `-p sync`). */
const PROJECT = "sync";

export interface RemoteOptions {
  readonly follow?: boolean;
  /** Lines of history before following. */
  readonly tail?: number;
}

/** Overrides for outputs an older stack does not export. */
export interface RemoteTarget {
  readonly provider?: StackOutputs["provider"];
  readonly instance?: string;
  readonly region?: string;
  readonly zone?: string;
  readonly project?: string;
  readonly container?: string;
  readonly ip?: string;
}

/** The command that prints the stack's logs on the VM: both services through the compose wrapper cloud-init installs. */
export function vmLogsCommand(opts: RemoteOptions): string {
  return `sudo ${COMPOSE_WRAPPER} -p ${PROJECT} -f ${COMPOSE_FILE} logs --no-color --tail ${opts.tail ?? 200}${opts.follow ? " --follow" : ""}`;
}

function need(value: string | undefined, output: string, flag: string, why: string): string {
  if (!value) throw new CliError(Exit.CONFIG, "missing_output", `${why} needs the "${output}" stack output (export it from your program) or --${flag}`);
  return value;
}

/**
 * The argv that reaches the VM the way each cloud's component allows in (the real-clouds
 * issue): AWS through SSM Session Manager (the instance role has AmazonSSMManagedInstanceCore
 * and the agent is installed; components/aws), GCP through IAP TCP forwarding with OS Login
 * (components/gcp: port 22 open to IAP's range only), DigitalOcean through SSH as root to the
 * droplet's IP, Docker through the local engine. `logs` runs the compose logs command there;
 * `shell` opens an interactive shell.
 */
export function remoteArgv(action: "logs" | "shell", t: RemoteTarget, opts: RemoteOptions = {}): string[] {
  const cmd = vmLogsCommand(opts);
  switch (t.provider) {
    case "aws": {
      const target = need(t.instance, "instanceId", "instance", "AWS SSM");
      const region = t.region ? ["--region", t.region] : [];
      // AWS-StartInteractiveCommand runs one command in a session (Session Manager docs,
      // "Start a session (interactive and port forwarding commands)"); parameters as JSON.
      return action === "shell"
        ? ["aws", "ssm", "start-session", "--target", target, ...region]
        : ["aws", "ssm", "start-session", "--target", target, ...region, "--document-name", "AWS-StartInteractiveCommand", "--parameters", JSON.stringify({ command: [cmd] })];
    }
    case "gcp": {
      const name = need(t.instance, "instanceName", "instance", "gcloud compute ssh");
      const where = [...(t.zone ? ["--zone", t.zone] : []), ...(t.project ? ["--project", t.project] : [])];
      return ["gcloud", "compute", "ssh", name, ...where, "--tunnel-through-iap", ...(action === "logs" ? ["--command", cmd] : [])];
    }
    case "digitalocean": {
      const ip = need(t.ip, "ip", "ip", "ssh");
      // root: DigitalOcean puts the account's SSH keys on root (the droplet's ssh_keys).
      return action === "logs" ? ["ssh", `root@${ip}`, cmd.replace(/^sudo /, "")] : ["ssh", "-t", `root@${ip}`];
    }
    case "docker": {
      const container = need(t.container, "container", "container", "docker");
      return action === "logs"
        ? ["docker", "logs", "--tail", String(opts.tail ?? 200), ...(opts.follow ? ["--follow"] : []), container]
        : ["docker", "exec", "-it", container, "sh"];
    }
    case undefined:
      throw new CliError(Exit.CONFIG, "no_provider", `${action} needs to know the cloud: the "provider" stack output, or --provider aws|gcp|digitalocean|docker`);
    default: {
      const never: never = t.provider;
      throw new Error(`unknown provider ${String(never)}`);
    }
  }
}
