import { CliError, Exit } from "./exit-codes";

export interface FlagSpec {
  /** A flag that takes a value (`--to DIR` or `--to=DIR`); otherwise it is a boolean. */
  readonly value?: boolean;
}

export interface Parsed {
  readonly positional: string[];
  readonly flags: Record<string, string | true>;
}

/**
 * A small, strict argv parser: `--name value`, `--name=value`, boolean `--name`, `--` ends
 * flags. An unknown flag or a missing value is a usage error (exit 2) naming the flag,
 * never silently ignored: a typo in `--yes` must not run a restore unconfirmed.
 */
export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, FlagSpec>>): Parsed {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg === "-h") flags.help = true;
      else positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const known = spec[name];
    if (!known) throw new CliError(Exit.USAGE, "unknown_flag", `unknown flag --${name}; see --help`);
    if (!known.value) {
      if (eq !== -1) throw new CliError(Exit.USAGE, "bad_flag", `--${name} takes no value`);
      flags[name] = true;
      continue;
    }
    const value = eq !== -1 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === "") throw new CliError(Exit.USAGE, "missing_value", `--${name} needs a value`);
    flags[name] = value;
  }
  return { positional, flags };
}

/** "30s", "2m", "500ms" to ms. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(text.trim());
  if (!m) throw new CliError(Exit.USAGE, "bad_duration", `--${flag} ${text}: write a duration with a unit, e.g. 30s, 2m, 500ms`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as "ms" | "s" | "m"];
}
