import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { AdminPath, BackupHeader, BackupInfoSchema } from "../../../protocol/src/admin";
import { admin, adminJson } from "../admin-client";
import { readBackupFacts } from "../backup-file";
import { type Ctx, formatBytes } from "../context";
import { CliError, Exit } from "../exit-codes";

/** `backup now`: the server writes a consistent backup into its backups directory. */
export async function backupNow(ctx: Ctx): Promise<number> {
  const info = await adminJson(await ctx.admin(), "POST", AdminPath.backup, BackupInfoSchema, { timeoutMs: Math.max(ctx.timeoutMs, 600_000) });
  ctx.print(info, () => [`backup written on the server: ${info.file}`, `  t ${info.t}, ${info.datoms} datoms, ${formatBytes(info.bytes)}`, `  sha256 ${info.sha256}`]);
  return Exit.OK;
}

/** A name the server sent for the file, reduced to something safe to create in --to. */
function safeName(disposition: string | undefined): string {
  const m = /filename="([^"]+)"/.exec(disposition ?? "");
  const base = path.basename(m?.[1] ?? "");
  return /^[\w.-]+\.db$/.test(base) ? base : `sync-backup-${new Date().toISOString().replace(/[-:.]/g, "")}.db`;
}

export interface PullReport {
  file: string;
  bytes: number;
  sha256: string;
  t: number;
  datoms: number;
  server: { t: number | null; datoms: number | null; sha256: string; time: string | null };
  /** Which of the server's figures the copy was checked against. */
  verified: string[];
}

/**
 * `backup pull [--to DIR]`: downloads the newest backup to DIR (default: here) through a
 * .part file, then checks the copy on its own: SQLite opens it, integrity_check passes, and
 * its sha256, t and datom count, read from the copy, equal what the server reported. A copy
 * that fails keeps a `.unverified` suffix and the command exits 6.
 */
export async function backupPull(ctx: Ctx): Promise<number> {
  const dir = path.resolve(ctx.io.cwd, ctx.str("to") ?? ".");
  fs.mkdirSync(dir, { recursive: true });
  const res = await admin(await ctx.admin(), "GET", AdminPath.backupLatest);
  const header = (name: string) => {
    const v = res.headers[name];
    return typeof v === "string" ? v : null;
  };
  const serverSha = header(BackupHeader.sha256);
  if (!serverSha) throw new CliError(Exit.FAILED, "bad_answer", `the server sent no ${BackupHeader.sha256} header; is it this version's server?`);
  const final = path.join(dir, safeName(header("content-disposition") ?? undefined));
  const part = `${final}.part`;
  const hash = crypto.createHash("sha256");
  res.body.on("data", (c: Buffer) => hash.update(c));
  try {
    await pipeline(res.body, fs.createWriteStream(part, { mode: 0o600 }));
  } catch (err) {
    fs.rmSync(part, { force: true });
    throw new CliError(Exit.UNREACHABLE, "download_failed", `the download broke off: ${(err as Error).message}`);
  }
  const fd = fs.openSync(part, "r");
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const downloadedSha = hash.digest("hex");
  const expected = Number(header("content-length") ?? NaN);
  const fail = (why: string): never => {
    fs.renameSync(part, `${final}.unverified`);
    throw new CliError(Exit.VERIFY_FAILED, "verify_failed", `${why}; the copy is kept as ${final}.unverified`);
  };
  if (Number.isFinite(expected) && fs.statSync(part).size !== expected) fail(`got ${fs.statSync(part).size} bytes, the server announced ${expected}`);
  if (downloadedSha !== serverSha) fail(`sha256 ${downloadedSha} differs from the server's ${serverSha}`);
  let facts;
  try {
    facts = await readBackupFacts(part);
  } catch (err) {
    return fail((err as Error).message);
  }
  const serverT = header(BackupHeader.t) === null ? null : Number(header(BackupHeader.t));
  const serverDatoms = header(BackupHeader.datoms) === null ? null : Number(header(BackupHeader.datoms));
  const verified = ["sqlite", "integrity_check", "sha256"];
  if (serverT !== null) {
    if (facts.t !== serverT) fail(`the copy holds t ${facts.t}, the server reported ${serverT}`);
    verified.push("t");
  }
  if (serverDatoms !== null) {
    if (facts.datoms !== serverDatoms) fail(`the copy holds ${facts.datoms} datoms, the server reported ${serverDatoms}`);
    verified.push("datoms");
  }
  fs.renameSync(part, final);
  const report: PullReport = { file: final, bytes: facts.bytes, sha256: facts.sha256, t: facts.t, datoms: facts.datoms, server: { t: serverT, datoms: serverDatoms, sha256: serverSha, time: header(BackupHeader.time) }, verified };
  ctx.print(report, () => [
    `saved ${final} (${formatBytes(facts.bytes)})`,
    `  backup taken ${report.server.time ?? "at an unknown time"}; t ${facts.t}, ${facts.datoms} datoms`,
    `  verified: ${verified.join(", ")}${serverT === null ? " (the server recorded no t or datom count for this backup: it was written by `sync-server backup`)" : ""}`,
  ]);
  return Exit.OK;
}
