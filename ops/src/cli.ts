import readline from "node:readline";
import { type FlagSpec, parseArgs } from "./args";
import { Ctx, type Io } from "./context";
import { CliError, Exit } from "./exit-codes";
import { backupNow, backupPull } from "./commands/backup";
import { snapshots } from "./commands/list-snapshots";
import { restore } from "./commands/restore";
import { status } from "./commands/status";
import { vm } from "./commands/vm";

const SOURCE_FLAGS: Record<string, FlagSpec> = {
  stack: { value: true },
  cwd: { value: true },
  outputs: { value: true },
  url: { value: true },
  token: { value: true },
  "admin-token": { value: true },
  ca: { value: true },
  timeout: { value: true },
  json: {},
  help: {},
};
const VM_FLAGS: Record<string, FlagSpec> = { provider: { value: true }, instance: { value: true }, region: { value: true }, zone: { value: true }, project: { value: true }, ip: { value: true }, container: { value: true }, "dry-run": {} };

const SOURCE_HELP = `Where the deployment comes from (first that applies):
  --url URL             the server's URL (wss://host/ws); tokens from the flags or environment
  --outputs FILE        a saved \`pulumi stack output --json --show-secrets\`
  (default)             the current Pulumi stack: pulumi stack output --json --show-secrets
  --stack NAME          that stack instead of the selected one;  --cwd DIR  the Pulumi project
  --admin-token TOKEN   the admin token (or SYNC_ADMIN_TOKEN; default: the adminToken output)
  --token TOKEN         the access token (or SYNC_TOKEN; default: the token output)
  --ca FILE             trust this CA as well (Caddy's local CA on the local stack)
  --timeout DURATION    per-request answer deadline (default 15s)
  --json                print one JSON document on stdout`;

const EXIT_HELP = `Exit codes: 0 ok, 1 the server answered badly (not ready, refused), 2 usage,
  3 no deployment (outputs, url, token missing), 4 unreachable (DNS, TCP, TLS, timeout),
  5 admin token refused or rate limited, 6 backup verification failed, 127 tool missing.`;

interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly flags: Record<string, FlagSpec>;
  run(ctx: Ctx): Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  status: {
    summary: "reachability, TLS expiry, readiness, t, datoms, clients, space, last backup and snapshot",
    usage: "athens-sync status [source flags]\n\nExits 1 when the server is not ready or its certificate is overdue for renewal (less than a\nquarter of its lifetime left), 4 when it cannot be reached or its certificate is not trusted.",
    flags: SOURCE_FLAGS,
    run: status,
  },
  "backup now": {
    summary: "the server writes a consistent backup now",
    usage: "athens-sync backup now [source flags]",
    flags: SOURCE_FLAGS,
    run: backupNow,
  },
  "backup pull": {
    summary: "download the newest backup and verify the copy",
    usage:
      "athens-sync backup pull [--to DIR] [source flags]\n\nSaves the newest backup in DIR (default: the current directory), then opens the copy with\nSQLite, runs integrity_check and compares its sha256, t and datom count with the server's.\nA copy that fails keeps a .unverified suffix and the command exits 6.",
    flags: { ...SOURCE_FLAGS, to: { value: true } },
    run: backupPull,
  },
  restore: {
    summary: "restore --from-backup FILE (upload) or --from-snapshot ID (new volume, pulumi up)",
    usage:
      "athens-sync restore --from-backup FILE [--yes] [--wait DURATION] [source flags]\nathens-sync restore --from-snapshot ID [--yes] [--stack NAME] [--cwd DIR]\n\n--from-backup checks FILE here, uploads it; the server checks it again, disconnects its\nclients, swaps it in (keeping the old db) and reopens; the command waits (default 60s)\nuntil the server is ready at the backup's t.\n--from-snapshot creates a new data volume from the snapshot and attaches it in place of\nthe current one (kept, never deleted), through pulumi up after showing the preview.\n--yes skips the confirmation (needed without a terminal).",
    flags: { ...SOURCE_FLAGS, "from-backup": { value: true }, "from-snapshot": { value: true }, yes: {}, wait: { value: true } },
    run: restore,
  },
  snapshots: {
    summary: "the stack's volume snapshots, newest first",
    usage: "athens-sync snapshots [source flags]",
    flags: SOURCE_FLAGS,
    run: snapshots,
  },
  logs: {
    summary: "the stack's logs (docker; SSM on AWS; IAP SSH on GCP; SSH on DigitalOcean)",
    usage:
      "athens-sync logs [--follow] [--tail N] [--dry-run] [source flags]\n\nRuns the cloud's own tool: docker logs; aws ssm start-session; gcloud compute ssh\n--tunnel-through-iap; ssh root@IP. Outputs an older stack lacks can be given as\n--provider, --instance, --region, --zone, --project, --ip, --container.\n--dry-run prints the command instead of running it.",
    flags: { ...SOURCE_FLAGS, ...VM_FLAGS, follow: {}, tail: { value: true } },
    run: (ctx) => vm(ctx, "logs"),
  },
  shell: {
    summary: "a shell on the VM (or in the server container on Docker), the same way as logs",
    usage: "athens-sync shell [--dry-run] [source flags]",
    flags: { ...SOURCE_FLAGS, ...VM_FLAGS },
    run: (ctx) => vm(ctx, "shell"),
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  return `usage: athens-sync <command> [flags]\n\nOperate a deployed sync server: health, backups you can take home, restores, logs, a shell.\n\n${Object.entries(COMMANDS)
    .map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`)
    .join("\n")}\n\nathens-sync <command> --help for its flags.\n\n${SOURCE_HELP}\n\n${EXIT_HELP}\n`;
}

/** Finds the command: one word, or two for `backup now` / `backup pull`. */
function lookup(argv: string[]): { name: string; rest: string[] } | null {
  const two = argv.slice(0, 2).join(" ");
  if (COMMANDS[two]) return { name: two, rest: argv.slice(2) };
  const one = argv[0];
  if (one !== undefined && COMMANDS[one]) return { name: one, rest: argv.slice(1) };
  return null;
}

/** Runs one command line; resolves with the exit code. Never exits the process itself. */
export async function run(argv: string[], io: Io): Promise<number> {
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    io.out(mainHelp());
    return argv.length === 0 ? Exit.USAGE : Exit.OK;
  }
  const found = lookup(argv);
  if (!found) {
    io.err(`athens-sync: unknown command "${argv.slice(0, argv[0] === "backup" ? 2 : 1).join(" ")}"\n\n${mainHelp()}`);
    return Exit.USAGE;
  }
  const command = COMMANDS[found.name]!;
  let json = found.rest.includes("--json");
  try {
    const { flags, positional } = parseArgs(found.rest, command.flags);
    json = flags.json === true;
    if (flags.help) {
      io.out(`usage: ${command.usage}\n\n${SOURCE_HELP}\n\n${EXIT_HELP}\n`);
      return Exit.OK;
    }
    if (positional.length > 0) throw new CliError(Exit.USAGE, "usage", `unexpected argument "${positional[0]}"; see athens-sync ${found.name} --help`);
    return await command.run(new Ctx(io, flags, positional));
  } catch (err) {
    const e = err instanceof CliError ? err : new CliError(Exit.FAILED, "error", (err as Error).message);
    if (json) io.out(`${JSON.stringify({ ok: false, error: e.code, message: e.message, exit: e.exit })}\n`);
    io.err(`athens-sync ${found.name}: ${e.message}\n`);
    return e.exit;
  }
}

/** The real terminal. */
export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
    now: () => new Date(),
    confirm: async (question) => {
      if (!process.stdin.isTTY) return null;
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await new Promise<string>((resolve) => rl.question(`${question}\nType yes to go on: `, resolve));
        return answer.trim().toLowerCase() === "yes";
      } finally {
        rl.close();
      }
    },
  };
}
