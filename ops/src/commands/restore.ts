import fs from "node:fs";
import path from "node:path";
import { AdminPath, AdminStatusSchema, BACKUP_CONTENT_TYPE, RestoreResultSchema } from "../../../protocol/src/admin";
import { adminJson } from "../admin-client";
import { readBackupFacts } from "../backup-file";
import { parseDuration } from "../args";
import { type Ctx, formatBytes } from "../context";
import { CliError, Exit } from "../exit-codes";
import { loadSnapshotApi } from "./snapshots";

/** How often `restore` asks whether the server is back. */
const POLL_MS = 1000;

/** `restore --from-backup FILE` or `restore --from-snapshot ID`. */
export async function restore(ctx: Ctx): Promise<number> {
  const fromBackup = ctx.str("from-backup");
  const fromSnapshot = ctx.str("from-snapshot");
  if ((fromBackup === undefined) === (fromSnapshot === undefined)) throw new CliError(Exit.USAGE, "usage", "restore needs exactly one of --from-backup FILE or --from-snapshot ID");
  if (fromSnapshot !== undefined) {
    return loadSnapshotApi().restoreFromSnapshot({ snapshotId: fromSnapshot, stack: ctx.str("stack"), yes: ctx.flags.yes === true, cwd: ctx.str("cwd") ?? ctx.io.cwd });
  }
  return restoreFromBackup(ctx, path.resolve(ctx.io.cwd, fromBackup!));
}

/**
 * Checks the file here first (the same checks as `backup pull`), asks for confirmation
 * (--yes for scripts), uploads it; the server validates it again, drains its clients with
 * 1012, swaps it in (keeping the old db) and reopens. Then waits until the server reports
 * ready at the backup's t.
 */
async function restoreFromBackup(ctx: Ctx, file: string): Promise<number> {
  if (!fs.existsSync(file)) throw new CliError(Exit.USAGE, "no_file", `${file} does not exist`);
  const facts = await readBackupFacts(file);
  const target = await ctx.admin();
  const before = await adminJson(target, "GET", AdminPath.status, AdminStatusSchema);
  const question = `Replace the data on ${target.origin.host} (t ${before.t}, ${before.datoms} datoms, ${before.connections} clients connected) with ${path.basename(file)} (t ${facts.t}, ${facts.datoms} datoms)? Clients are disconnected and reconnect; the current db is kept on the server.`;
  if (ctx.flags.yes !== true) {
    const answer = await ctx.io.confirm(question);
    if (answer === null) throw new CliError(Exit.USAGE, "needs_yes", "restore replaces the server's data; run it in a terminal to confirm, or pass --yes");
    if (!answer) {
      ctx.note("not restored");
      return Exit.FAILED;
    }
  }
  ctx.note(`uploading ${formatBytes(facts.bytes)} ...`);
  const result = await adminJson(target, "POST", AdminPath.restore, RestoreResultSchema, {
    body: fs.createReadStream(file),
    headers: { "content-type": BACKUP_CONTENT_TYPE, "content-length": String(facts.bytes) },
    // The server answers after the upload, its checks and the swap.
    timeoutMs: Math.max(ctx.timeoutMs, 30 * 60_000),
  });
  if (result.t !== facts.t || result.datoms !== facts.datoms) {
    throw new CliError(Exit.VERIFY_FAILED, "restore_mismatch", `the server reopened at t ${result.t} with ${result.datoms} datoms, but the file holds t ${facts.t} with ${facts.datoms}`);
  }
  // Caddy checks /readyz every 10 s and may hold the server as down for one interval after the swap.
  const waitMs = typeof ctx.flags.wait === "string" ? parseDuration(ctx.flags.wait, "wait") : 60_000;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const s = await adminJson(target, "GET", AdminPath.status, AdminStatusSchema);
      if (s.ready && s.t >= result.t) break;
    } catch (err) {
      if (!(err instanceof CliError) || err.exit === Exit.DENIED) throw err;
    }
    if (Date.now() > deadline) throw new CliError(Exit.FAILED, "not_ready", `the backup is in place, but the server did not report ready within ${waitMs / 1000} s; check \`athens-sync status\` and \`athens-sync logs\``);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const report = { restored: file, ...result };
  ctx.print(report, () => [
    `restored ${path.basename(file)}: the server is ready at t ${result.t} with ${result.datoms} datoms (${result.ms} ms)`,
    `  ${result.drained} client(s) were disconnected and reconnect on their own`,
    ...(result.replacedT !== undefined && result.replacedT > result.t
      ? [`  the replaced db had reached t ${result.replacedT}: its ${result.replacedT - result.t} transaction(s) after t ${result.t} are not in the restored db`]
      : []),
    `  the previous db is kept on the server as ${result.replaced ?? "(there was none)"}`,
  ]);
  return Exit.OK;
}
