import { AdminPath, type AdminStatus, AdminStatusSchema } from "../../../protocol/src/admin";
import { adminJson } from "../admin-client";
import { type Ctx, formatBytes } from "../context";
import { CliError, Exit } from "../exit-codes";
import { request } from "../http";
import { httpOrigin } from "../outputs";
import { checkTls, type TlsFacts } from "../tls-check";
import { listNewestFirst, loadSnapshotApi, type Snapshot } from "./snapshots";


export interface StatusReport {
  url: string;
  source: string;
  /** GET /healthz through the proxy. */
  reachable: { ok: boolean; status?: number; ms?: number; error?: string };
  /** null for a plain ws:// or http:// url. */
  tls: (TlsFacts & { ok: boolean }) | { ok: false; error: string } | null;
  /** null without an admin token. */
  admin: (AdminStatus & { ok: boolean }) | { ok: false; error: string; message: string } | null;
  /** The newest volume snapshot; null when the cloud side is absent or the deployment is local. */
  lastSnapshot: Snapshot | { error: string } | null;
  exit: number;
}

/**
 * `status`: is it up, is TLS fine, is it ready, what does it hold. Every probe runs even
 * when an earlier one fails, so one call shows the whole picture; the exit code is the
 * worst finding (README, "Operating it").
 */
export async function status(ctx: Ctx): Promise<number> {
  const d = await ctx.deployment();
  const origin = httpOrigin(d.outputs.url);
  const ca = ctx.str("ca");
  const report: StatusReport = { url: d.outputs.url, source: d.source, reachable: { ok: false }, tls: null, admin: null, lastSnapshot: null, exit: Exit.OK };
  let exit: number = Exit.OK;
  // The worst finding wins: unreachable over denied over a bad answer.
  const rank = (code: number) => [Exit.OK, Exit.FAILED, Exit.CONFIG, Exit.DENIED, Exit.UNREACHABLE].indexOf(code as never);
  const worst = (code: number) => {
    if (rank(code) > rank(exit)) exit = code;
  };

  const started = performance.now();
  try {
    const res = await request(new URL("/healthz", origin), { ca, timeoutMs: ctx.timeoutMs });
    await res.text();
    report.reachable = { ok: res.status === 200, status: res.status, ms: Math.round(performance.now() - started) };
    if (res.status !== 200) worst(Exit.FAILED);
  } catch (err) {
    report.reachable = { ok: false, error: (err as Error).message };
    worst(Exit.UNREACHABLE);
  }

  if (origin.protocol === "https:") {
    try {
      const facts = await checkTls(origin.hostname, Number(origin.port || 443), { ca, timeoutMs: ctx.timeoutMs, now: ctx.io.now() });
      const ok = facts.trusted && !facts.renewalOverdue;
      report.tls = { ...facts, ok };
      if (!ok) worst(Exit.FAILED);
    } catch (err) {
      report.tls = { ok: false, error: (err as Error).message };
      worst(Exit.UNREACHABLE);
    }
  }

  if (d.outputs.adminToken) {
    try {
      const s = await adminJson(await ctx.admin(), "GET", AdminPath.status, AdminStatusSchema);
      report.admin = { ...s, ok: s.ready };
      if (!s.ready) worst(Exit.FAILED);
    } catch (err) {
      const e = err instanceof CliError ? err : new CliError(Exit.FAILED, "error", (err as Error).message);
      report.admin = { ok: false, error: e.code, message: e.message };
      worst(e.exit);
    }
  }

  const api = d.outputs.provider && d.outputs.provider !== "docker" ? loadSnapshotApi() : null;
  if (api) {
    try {
      report.lastSnapshot = (await listNewestFirst(api, d.outputs))[0] ?? null;
    } catch (err) {
      // Listing needs cloud credentials; its absence does not make the server unhealthy.
      report.lastSnapshot = { error: (err as Error).message };
    }
  }

  report.exit = exit;
  ctx.print(report, () => human(report));
  return exit;
}

function human(r: StatusReport): string[] {
  const rows: Array<[string, string]> = [["url", r.url]];
  rows.push(["reachable", r.reachable.ok ? `yes (/healthz ${r.reachable.status} in ${r.reachable.ms} ms)` : `NO: ${r.reachable.error ?? `/healthz answered ${r.reachable.status}`}`]);
  if (r.tls) {
    rows.push([
      "tls",
      "error" in r.tls
        ? `NO: ${r.tls.error}`
        : `${r.tls.trusted ? "trusted" : `NOT TRUSTED (${r.tls.problem})`}, expires ${r.tls.validTo.replace(/\.\d+Z$/, "Z")} (${r.tls.daysLeft} days)${r.tls.renewalOverdue ? ": RENEWAL IS OVERDUE" : ""}, issuer ${r.tls.issuer ?? "unknown"}`,
    ]);
  }
  if (r.admin === null) rows.push(["admin", "no admin token (pass --admin-token or SYNC_ADMIN_TOKEN, or deploy a stack that exports adminToken)"]);
  else if ("error" in r.admin) rows.push(["admin", `NO: ${r.admin.message}`]);
  else {
    const a = r.admin;
    rows.push(
      ["ready", a.ready ? "yes" : `NO (${a.problem ?? a.state.toLowerCase()})`],
      ["t", String(a.t)],
      ["datoms", String(a.datoms)],
      ["clients", String(a.connections)],
      ["db", formatBytes(a.dbBytes)],
      ["volume", `${formatBytes(a.volumeFreeBytes)} free of ${formatBytes(a.volumeTotalBytes)}`],
      ["last backup", a.lastBackup ? `${a.lastBackup.time} (${formatBytes(a.lastBackup.bytes)}${a.lastBackup.t !== undefined ? `, t ${a.lastBackup.t}` : ""}) ${a.lastBackup.file}` : "none yet (athens-sync backup now)"],
      ["version", a.version],
      ["uptime", `${Math.floor(a.uptimeSeconds / 3600)}h ${Math.floor((a.uptimeSeconds % 3600) / 60)}m`],
    );
  }
  if (r.lastSnapshot) rows.push(["last snapshot", "error" in r.lastSnapshot ? `unknown: ${r.lastSnapshot.error}` : `${r.lastSnapshot.createdAt} ${r.lastSnapshot.id} (${r.lastSnapshot.sizeGiB} GiB)`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return [`status of ${r.source}`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)];
}
