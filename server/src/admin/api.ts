import crypto from "node:crypto";
import fs from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import type { Logger } from "pino";
import { AdminPath, type AdminStatus, BACKUP_CONTENT_TYPE, BackupHeader, type BackupInfo, type RestoreResult } from "../../../protocol/src/admin";
import type { Config } from "../config";
import { allDatoms, type Db } from "../datalog/datascript";
import { clientAddress, limitKey } from "../security/client-address";
import { freeBytes } from "../security/disk-space";
import { BACKUP_DIR, listBackups, RESTORE_UPLOAD_PREFIX, removeDbFile } from "../storage/backups";
import { DB_FILE } from "../storage/sqlite-store";
import type { SyncEngine } from "../sync/engine";
import { readSidecar, sha256File, writeSidecar } from "./backup-meta";
import { PerIpBuckets } from "./rate-limit";
import { INSUFFICIENT_STORAGE, receiveUpload, UploadError } from "./upload";
import { validateUploadOffThread } from "./validate-upload";

/** What the admin API needs from the server; SyncServer provides it (server.ts). */
export interface AdminHost {
  state(): string;
  /** Why the server is not ready (storage), or null. */
  problem(): string | null;
  /** Why the last backup was not taken, if it was not. */
  backupProblem(): string | null;
  engine(): SyncEngine | undefined;
  connections(): number;
  /** A consistent backup now (the scheduled backups' path); null when none could be taken. */
  backup(): Promise<string | null>;
  /** Drains clients, swaps the validated file in through the restore path, reopens. */
  restore(file: string): Promise<{ replaced: string | null; drained: number; replacedT: number }>;
}

/** Admin requests per client address: a burst of 30, then 2 a second. */
const BURST = 30;
const PER_SECOND = 2;
/** Free space an upload leaves beyond its copy in the swap and SYNC_MIN_FREE_SPACE: SQLite's WAL and temp files, the operator. */
const UPLOAD_HEADROOM = 64 * 1024 ** 2;
const BEARER = /^bearer[ \t]+(\S+)[ \t]*$/i;

function safeEqual(a: string, b: string): boolean {
  return crypto.timingSafeEqual(crypto.createHash("sha256").update(a).digest(), crypto.createHash("sha256").update(b).digest());
}

function fileSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * The `/admin/...` endpoints (protocol/PROTOCOL.md, "Admin API"): status, backup now,
 * download the newest backup, restore an uploaded one. Only `Authorization: Bearer` with
 * SYNC_ADMIN_TOKEN gets in (never a query parameter: URLs end up in logs); every request,
 * good token or not, first takes from its address's rate-limit bucket. One restore at a time.
 */
export class AdminApi {
  private readonly buckets = new PerIpBuckets(BURST, PER_SECOND);
  private readonly started = Date.now();
  private restoring = false;
  /** Datoms in the engine's committed db: counted once per engine, then kept up by its commits. */
  private counted?: { engine: SyncEngine; datoms: number };
  /** Sidecars being written, by backup file: POST /admin/backup waits for its own. */
  private readonly sidecars = new Map<string, Promise<BackupInfo | null>>();
  private readonly backupsDir: string;

  constructor(
    private readonly config: Config,
    private readonly host: AdminHost,
    private readonly log: Logger,
    private readonly version: string,
  ) {
    this.backupsDir = path.join(config.dataDir, BACKUP_DIR);
    // An upload cut short by a crash is never resumed: the server removes it at start (removeAbandonedRestores).
  }

  /**
   * Called by the server right after a backup's copy finished, with the committed db it
   * copied (no commit can land between the copy's last step and this call: both run in one
   * event-loop turn). Records t, datom count and sha256 beside the file.
   */
  backedUp(file: string, at: { t: number; db: Db }): Promise<BackupInfo | null> {
    const datoms = allDatoms(at.db).length;
    const done = (async () => {
      try {
        const info: BackupInfo = { file: path.basename(file), time: new Date().toISOString(), bytes: fs.statSync(file).size, t: at.t, datoms, sha256: await sha256File(file) };
        writeSidecar(info, file);
        return info;
      } catch (err) {
        this.log.error({ err, file }, "backup metadata not written");
        return null;
      } finally {
        this.sidecars.delete(file);
      }
    })();
    this.sidecars.set(file, done);
    return done;
  }

  async handle(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const ip = clientAddress(req, this.config.security.trustedProxies);
    const key = limitKey(ip);
    if (!this.buckets.take(key)) {
      res.setHeader("retry-after", String(this.buckets.retryAfter(key)));
      return this.fail(req, res, 429, "rate_limited", "too many admin requests from this address; wait and retry");
    }
    const presented = BEARER.exec(req.headers.authorization ?? "")?.[1];
    if (presented === undefined || !safeEqual(this.config.admin.token!, presented)) {
      this.log.warn({ ip, path: pathname }, "admin request refused: bad token");
      res.setHeader("www-authenticate", 'Bearer realm="sync-admin"');
      return this.fail(req, res, 401, "unauthorized", "send the admin token (SYNC_ADMIN_TOKEN) as Authorization: Bearer <token>");
    }
    const route = `${req.method} ${pathname}`;
    try {
      switch (route) {
        case `GET ${AdminPath.status}`:
          return this.json(res, 200, this.status());
        case `POST ${AdminPath.backup}`:
          return await this.backupNow(req, res);
        case `GET ${AdminPath.backupLatest}`:
          return await this.sendLatest(req, res);
        case `POST ${AdminPath.restore}`:
          return await this.restore(req, res);
      }
    } catch (err) {
      this.log.error({ err, route }, "admin request failed");
      return this.fail(req, res, 500, "internal", "the admin request failed; see the server log");
    }
    const known = (Object.values(AdminPath) as string[]).includes(pathname);
    return this.fail(req, res, known ? 405 : 404, known ? "method_not_allowed" : "not_found", known ? `${req.method} is not allowed on ${pathname}` : `no admin endpoint ${pathname}`);
  }

  private status(): AdminStatus {
    const engine = this.host.engine();
    const state = this.host.state();
    const problem = this.host.problem();
    let volumeFreeBytes: number | null = null;
    let volumeTotalBytes: number | null = null;
    try {
      const s = fs.statfsSync(this.config.dataDir);
      volumeFreeBytes = s.bavail * s.bsize;
      volumeTotalBytes = s.blocks * s.bsize;
    } catch {
      // Reported as unknown.
    }
    const db = path.join(this.config.dataDir, DB_FILE);
    return {
      state,
      ready: state === "RUNNING" && problem === null,
      problem,
      version: this.version,
      uptimeSeconds: Math.round((Date.now() - this.started) / 1000),
      t: engine?.t ?? 0,
      datoms: engine && state === "RUNNING" ? this.datoms(engine) : 0,
      connections: this.host.connections(),
      dbBytes: fileSize(db) + fileSize(`${db}-wal`),
      volumeFreeBytes,
      volumeTotalBytes,
      lastBackup: this.lastBackup(),
    };
  }

  private datoms(engine: SyncEngine): number {
    if (this.counted?.engine !== engine) {
      const counted = { engine, datoms: allDatoms(engine.db).length };
      this.counted = counted;
      // datascript reports only real changes (an add of a datom already there yields none),
      // so adds minus retractions keep the count exact.
      engine.onCommit((entries) => {
        for (const entry of entries) for (const d of entry.datoms) counted.datoms += d[4] ? 1 : -1;
      });
    }
    return this.counted.datoms;
  }

  private lastBackup(): AdminStatus["lastBackup"] {
    const file = listBackups(this.backupsDir).at(-1);
    if (!file) return null;
    const meta = readSidecar(file);
    if (meta) return meta;
    const stat = fs.statSync(file);
    return { file: path.basename(file), time: stat.mtime.toISOString(), bytes: stat.size };
  }

  private async backupNow(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.restoring) return this.fail(req, res, 409, "restore_in_progress", "a restore is running; take the backup after it");
    const file = await this.host.backup();
    const info = file && (await (this.sidecars.get(file) ?? Promise.resolve(readSidecar(file))));
    if (!info) return this.fail(req, res, 503, "backup_failed", `no backup was taken (${this.host.backupProblem() ?? this.host.problem() ?? `server is ${this.host.state().toLowerCase()}`}); see the server log`);
    this.json(res, 200, info);
  }

  private async sendLatest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const file = listBackups(this.backupsDir).at(-1);
    if (!file) return this.fail(req, res, 404, "no_backup", "there is no backup yet; take one with POST /admin/backup");
    await this.sidecars.get(file);
    // Open first: a backup pruned while it streams stays readable through the open fd.
    const handle = await fs.promises.open(file, "r");
    try {
      const { size, mtime } = await handle.stat();
      const meta = readSidecar(file);
      res.writeHead(200, {
        "content-type": BACKUP_CONTENT_TYPE,
        "content-length": String(size),
        "content-disposition": `attachment; filename="${path.basename(file)}"`,
        "cache-control": "no-store",
        [BackupHeader.sha256]: meta?.sha256 ?? (await sha256File(file)),
        [BackupHeader.time]: meta?.time ?? mtime.toISOString(),
        ...(meta ? { [BackupHeader.t]: String(meta.t), [BackupHeader.datoms]: String(meta.datoms) } : {}),
      });
    } catch (err) {
      await handle.close();
      throw err;
    }
    await new Promise<void>((resolve) => {
      const stream = handle.createReadStream();
      stream.once("error", () => res.destroy());
      res.once("close", () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
  }

  private async restore(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { maxUploadBytes, uploadTimeoutMs } = this.config.admin;
    if (this.restoring) return this.fail(req, res, 409, "restore_in_progress", "another restore is running; wait for it to finish");
    if (this.host.state() !== "RUNNING") return this.fail(req, res, 503, "not_ready", `the server is ${this.host.state().toLowerCase()}; retry when it is ready`);
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (declared > maxUploadBytes) return this.fail(req, res, 413, "upload_too_large", `the upload (${declared} bytes) is larger than SYNC_ADMIN_MAX_UPLOAD (${maxUploadBytes} bytes); nothing was changed`);
    this.restoring = true;
    const upload = path.join(this.config.dataDir, `${RESTORE_UPLOAD_PREFIX}${process.pid}-${Date.now()}.db`);
    const started = Date.now();
    try {
      const free = () => freeBytes(this.config.dataDir);
      // What must stay free: the log's floor, and headroom for SQLite and the operator.
      const reserve = this.config.security.minFreeBytes + UPLOAD_HEADROOM;
      // The upload, then its copy beside the db during the swap.
      if (Number.isFinite(declared) && free() < 2 * declared + reserve) throw new UploadError(507, "insufficient_storage", INSUFFICIENT_STORAGE);
      const bytes = await receiveUpload(req, upload, { maxBytes: maxUploadBytes, timeoutMs: uploadTimeoutMs, room: { free, reserve } });
      await validateUploadOffThread(upload);
      // A shutdown (SIGTERM) may have begun during the upload or its check: then the
      // restore never starts, and the answer must not claim the old db serves on.
      if (this.host.state() !== "RUNNING") throw new UploadError(503, "not_ready", `the server is ${this.host.state().toLowerCase()}; nothing was changed; upload again once it is back`);
      this.log.warn({ bytes }, "restore: upload checked, draining clients to swap it in");
      const { replaced, drained, replacedT } = await this.host.restore(upload);
      const engine = this.host.engine()!;
      const result: RestoreResult = { t: engine.t, datoms: this.datoms(engine), replaced: replaced && path.basename(replaced), drained, replacedT, ms: Date.now() - started };
      this.log.warn(result, "restore: done");
      this.json(res, 200, result);
    } catch (err) {
      if (err instanceof UploadError) return this.fail(req, res, err.status, err.code, err.message);
      this.log.error({ err }, "restore failed; the previous db is in place");
      const serving = this.host.state() === "RUNNING" ? "the previous db is serving again" : "no db could be opened and the server is down; restart it";
      return this.fail(req, res, 500, "restore_failed", `the restore failed and ${serving}: ${(err as Error).message}`);
    } finally {
      removeDbFile(upload);
      this.restoring = false;
    }
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(body));
  }

  /**
   * An error as JSON. When the request body was not read to its end (a refused upload),
   * the connection is closed after the answer instead of reading the rest of it.
   */
  private fail(req: IncomingMessage, res: ServerResponse, status: number, error: string, message: string): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const unread = !req.complete && (req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0);
    if (unread) res.shouldKeepAlive = false;
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...(unread ? { connection: "close" } : {}) });
    res.end(JSON.stringify({ error, message }));
    // Give the answer a moment to leave before the socket (and the unread body) is dropped.
    if (unread) res.once("finish", () => setTimeout(() => req.socket.destroy(), 50).unref());
  }
}
