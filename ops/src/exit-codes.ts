/**
 * Exit codes every `athens-sync` command uses; scripts can rely on them (README, "Operating it").
 * `logs` and `shell` exit with the remote tool's own code instead, or TOOL_MISSING.
 */
export const Exit = {
  OK: 0,
  /** The server answered, and the answer is bad: not ready, backup or restore refused. */
  FAILED: 1,
  /** Bad command line. */
  USAGE: 2,
  /** No deployment to talk to: no Pulumi stack or outputs file, a missing url or token. */
  CONFIG: 3,
  /** The server or its proxy did not answer (DNS, TCP, TLS, timeout). */
  UNREACHABLE: 4,
  /** The admin token was refused (401) or rate limited (429). */
  DENIED: 5,
  /** A downloaded or local backup failed verification (integrity, t, datom count, sha256). */
  VERIFY_FAILED: 6,
  /** The tool a command spawns (pulumi, docker, aws, gcloud, ssh) is not installed. */
  TOOL_MISSING: 127,
} as const;
export type ExitCode = (typeof Exit)[keyof typeof Exit];

/** An error that ends the command with a given exit code and a message for the operator. */
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    readonly exit: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
