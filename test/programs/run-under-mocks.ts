/**
 * Runs the stack entry under mocks in a process of its own, as Pulumi's Node language
 * host runs a program: an unhandled rejection ends it with the error and exit code 1.
 * Jest cannot watch a program fail this way (its sandbox has its own `process`), so the
 * tests of programs that must fail spawn this. Usage: tsx run-under-mocks.ts '<config JSON>'.
 * Prints one line of JSON: { ok, resources, error? }.
 */
import { mockStats, runProgram } from "../mocks";

const config = JSON.parse(process.argv[2] ?? "{}") as Record<string, string>;
const finish = (result: { ok: boolean; error?: string }) => {
  process.stdout.write(JSON.stringify({ ...result, resources: mockStats.registered }) + "\n");
  process.exit(result.ok ? 0 : 1);
};
process.on("unhandledRejection", (reason) => finish({ ok: false, error: reason instanceof Error ? reason.message : String(reason) }));
runProgram(config).then(
  () => finish({ ok: true }),
  (err: unknown) => finish({ ok: false, error: err instanceof Error ? err.message : String(err) }),
);
