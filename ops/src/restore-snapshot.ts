/**
 * `athens-sync restore --from-snapshot ID`: points the stack's `restoreFromSnapshot`
 * config at a volume snapshot, shows `pulumi preview --diff`, asks, then `pulumi up`.
 * The component does the rest (a new volume from the snapshot, attached in place of the
 * current one, the old one kept): this is the config key and the Pulumi CLI, no more.
 *
 * Steps, each a `pulumi` run in `cwd` (with `--stack S` when given):
 *   1. `stack output --json`          which cloud the stack runs on (ids differ per cloud)
 *   2. `config get <key>`             the value in effect, to put back on "no"
 *   3. `stack export`                 only when a previous restore is in effect: the URN of
 *                                     the volume it created, which the program stops declaring
 *   4. `config set <key> <id>`
 *   5. `state unprotect --yes <urn>`  only with (3): Pulumi refuses, even in a preview, to
 *                                     drop a protected resource; the volume stays in the
 *                                     cloud (retainOnDelete), the stack forgets it
 *   6. `preview --diff`
 *   7. the question (a TTY), unless `yes`
 *   8. `up --yes --skip-preview`
 * A "no", or a failed preview, puts the previous value back (`config set` or `config rm`)
 * and runs no `up`.
 */
import { spawn } from "node:child_process";
import readline from "node:readline";
import { PROJECT, type ProviderName } from "../../components/config";
import { snapshotIdProblem, snapshotSlug } from "../../components/snapshot-id";

/**
 * Always namespaced: a project made from a template carries the user's own name, so a bare
 * `restoreFromSnapshot` would be stored under that name (the CLI's ParseConfigKeyForProject),
 * where the component never reads it; the component reads `athens-sync:*` in any project.
 */
export const CONFIG_KEY = `${PROJECT}:restoreFromSnapshot`;

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** A pulumi command failed (the message says which; the config is put back unless `up` itself failed). */
  pulumiFailed: 1,
  /** Bad input: an id that cannot be a snapshot on this cloud, or no TTY to ask on without --yes. */
  usage: 2,
  /** The operator said no: nothing changed. */
  declined: 3,
} as const;

export interface RestoreOptions {
  readonly snapshotId: string;
  /** `--stack`; the selected stack when omitted. */
  readonly stack?: string;
  /** Skip the question (scripts). */
  readonly yes: boolean;
  /** The Pulumi project's directory. */
  readonly cwd: string;
  /** The Pulumi CLI. @default "pulumi" (from PATH) */
  readonly pulumi?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where the question is read; asked only when it is a TTY. @default process.stdin */
  readonly input?: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Progress, pulumi's own output and the question. @default process.stderr */
  readonly output?: NodeJS.WritableStream;
}

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function restoreFromSnapshot(opts: RestoreOptions): Promise<number> {
  const out = opts.output ?? process.stderr;
  const input = opts.input ?? process.stdin;
  const say = (line: string) => out.write(`${line}\n`);
  const stackArgs = opts.stack ? ["--stack", opts.stack] : [];
  const pulumi = (args: string[], show = false): Promise<Run> => run(opts.pulumi ?? "pulumi", [...args, ...stackArgs], opts.cwd, opts.env ?? process.env, show ? out : undefined);
  const id = opts.snapshotId.trim();

  if (!opts.yes && !input.isTTY) {
    say("restore: not a terminal, so there is no one to ask; pass --yes to run `pulumi up` without the question");
    return EXIT.usage;
  }

  const outputs = await pulumi(["stack", "output", "--json"]);
  if (outputs.code !== 0) return failed(say, "pulumi stack output --json", outputs);
  const cloud = cloudOf(outputs.stdout);
  if (!cloud) {
    say("restore: the stack has no `cloud` output: deploy it (`pulumi up`) before restoring it");
    return EXIT.usage;
  }
  const problem = snapshotIdProblem(cloud, id);
  if (problem) {
    say(`restore: ${CONFIG_KEY}: ${JSON.stringify(id)} ${problem}`);
    return EXIT.usage;
  }

  const current = await pulumi(["config", "get", CONFIG_KEY]);
  // `config get` exits non-zero for a key the stack does not set.
  const previous = current.code === 0 ? current.stdout.trim() || undefined : undefined;
  if (previous === id) {
    say(`restore: the stack already runs on the volume restored from ${id}; nothing to do`);
    return EXIT.ok;
  }

  let previousVolume: string | undefined;
  if (previous !== undefined) {
    const exported = await pulumi(["stack", "export"]);
    if (exported.code !== 0) return failed(say, "pulumi stack export", exported);
    previousVolume = restoredVolumeUrn(exported.stdout, previous);
  }

  const set = await pulumi(["config", "set", CONFIG_KEY, id]);
  if (set.code !== 0) return failed(say, `pulumi config set ${CONFIG_KEY}`, set);
  const putBack = async (): Promise<void> => {
    const undo = previous === undefined ? await pulumi(["config", "rm", CONFIG_KEY]) : await pulumi(["config", "set", CONFIG_KEY, previous]);
    say(undo.code === 0 ? `restore: ${CONFIG_KEY} is back to ${previous ?? "unset"}` : `restore: could not put ${CONFIG_KEY} back to ${previous ?? "unset"}; do it by hand: ${undo.stderr.trim()}`);
    if (previousVolume) say(`restore: the volume restored from ${previous} is unprotected in the state (it is still retained: never deleted); the next \`pulumi up\` protects it again`);
  };

  if (previousVolume) {
    say(`restore: the stack now runs on the volume restored from ${previous}; it stays in the cloud (retainOnDelete), and the stack forgets it: unprotecting ${previousVolume}`);
    const unprotect = await pulumi(["state", "unprotect", "--yes", previousVolume]);
    if (unprotect.code !== 0) {
      await putBack();
      return failed(say, "pulumi state unprotect", unprotect);
    }
  }

  say(`restore: previewing a new data volume from ${id} (the current one is kept, never deleted)`);
  const preview = await pulumi(["preview", "--diff"], true);
  if (preview.code !== 0) {
    await putBack();
    return failed(say, "pulumi preview --diff", preview);
  }

  if (!opts.yes && !(await ask(input, out, `Replace the VM and attach a volume restored from ${id}? Clients reconnect after a short outage. Type "yes" to run pulumi up: `))) {
    say("restore: not confirmed; no `pulumi up` was run");
    await putBack();
    return EXIT.declined;
  }

  const up = await pulumi(["up", "--yes", "--skip-preview"], true);
  if (up.code !== 0) {
    say(`restore: pulumi up failed; ${CONFIG_KEY} stays ${id}: fix the cause and run \`pulumi up\` again, or go back with \`pulumi config ${previous === undefined ? `rm ${CONFIG_KEY}` : `set ${CONFIG_KEY} ${previous}`}\` and \`pulumi up\``);
    return EXIT.pulumiFailed;
  }
  say(`restore: done; the server runs on a volume restored from ${id}. The previous volume is kept (stack output retainedVolumeIds).`);
  return EXIT.ok;
}

/** The cloud from `pulumi stack output --json` (`cloud`, or `provider` from stacks deployed before it). */
function cloudOf(json: string): ProviderName | undefined {
  try {
    const o = JSON.parse(json) as { cloud?: unknown; provider?: unknown };
    const value = o.cloud ?? o.provider;
    return value === "aws" || value === "digitalocean" || value === "gcp" || value === "docker" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The types the components create data volumes with (components/<cloud>/sync-server.ts). */
const VOLUME_TYPES = new Set(["aws:ebs/volume:Volume", "digitalocean:index/volume:Volume", "gcp:compute/disk:Disk"]);

/**
 * The URN of the volume a previous restore created: a SyncServer's data volume whose
 * logical name ends in `-data-<snapshot slug>` (the components name it so).
 */
export function restoredVolumeUrn(stackExport: string, snapshotId: string): string | undefined {
  const doc = JSON.parse(stackExport) as { deployment?: { resources?: Array<{ urn: string; type: string }> } };
  const suffix = `-data-${snapshotSlug(snapshotId)}`;
  return (doc.deployment?.resources ?? []).find((r) => VOLUME_TYPES.has(r.type) && r.urn.includes("::athens-sync:") && r.urn.endsWith(suffix))?.urn;
}

function failed(say: (line: string) => void, what: string, r: Run): number {
  say(`restore: ${what} failed (exit ${r.code})${r.stderr.trim() ? `: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}` : ""}`);
  return EXIT.pulumiFailed;
}

async function ask(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, question: string): Promise<boolean> {
  const rl = readline.createInterface({ input, output, terminal: false });
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.question(question, resolve);
      // End of input (Ctrl-D) is a "no".
      rl.once("close", () => resolve(""));
    });
    return answer.trim().toLowerCase() === "yes";
  } finally {
    rl.close();
  }
}

/** Runs a command; its output is captured, and also streamed to `show` (preview, up). */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, show?: NodeJS.WritableStream): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
      show?.write(c);
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
      show?.write(c);
    });
    child.on("error", (error) => resolve({ code: 127, stdout, stderr: `${stderr}${error.message}${(error as NodeJS.ErrnoException).code === "ENOENT" ? ` (is the Pulumi CLI installed? https://www.pulumi.com/docs/install/)` : ""}` }));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}
