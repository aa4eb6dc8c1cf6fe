import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Logger } from "pino";
import { WebSocketServer, type WebSocket } from "ws";
import { verifiedJwt } from "./auth";
import type { Config } from "./config";
import { Connection, type ConnectionHandlers } from "./connection";
import { type DemoFiles, loadDemo, serveDemo } from "./demo";
import { SCHEMA } from "./datalog/schema";
import { ErrorCode } from "./errors";
import { Metrics } from "./metrics";
import { CloseCode, PROTOCOL_VERSION, WS_PATH } from "../../protocol/src";
import { BACKUP_DIR, clearRestoreMarker, pendingRestore, removeAbandonedBackups, removeAbandonedRestores, swapBackupIn, trimLogAfter, writeBackup } from "./storage/backups";
import { AdminApi } from "./admin/api";
import { readResyncThrough, usableSince } from "./storage/resync";
import { ADMIN_PREFIX } from "../../protocol/src/admin";
import type { Db } from "./datalog/datascript";
import { DataDirLock } from "./storage/data-dir-lock";
import { roomForCopy, StorageGuard } from "./security/disk-space";
import { PerIpConnections } from "./security/ip-connections";
import { requestUrl } from "./security/request-url";
import { checkUpgrade, refuseUpgrade } from "./security/upgrade-gate";
import { DB_FILE, SqliteStore } from "./storage/sqlite-store";
import type { LogEntry } from "./storage/store";
import { CatchUpPump } from "./sync/catch-up";
import { SyncEngine } from "./sync/engine";
import { encode, encodeTxs } from "./sync/fanout";
import { FanoutPacer } from "./sync/fanout-pacer";
import { textFrames } from "./sync/ws-frames";
import { Presence } from "./sync/presence";
import { QueryService } from "./query/service";
import { SnapshotBuilder } from "./sync/snapshot-builder";
import { SnapshotCache } from "./sync/snapshot-cache";
import { datascriptSchema } from "./datalog/schema";

/** RESTORING: POST /admin/restore has drained the clients and is swapping the db; then RUNNING again. */
export type ServerState = "NEW" | "STARTING" | "RUNNING" | "RESTORING" | "CLOSING" | "CLOSED";

export interface ServerOptions {
  readonly logger: Logger;
  /** Reported in logs and stored per boot in the db. */
  readonly version?: string;
}

/** Presence tick stretch per connected client: 5,000 online tick every 500 ms at most. */
const PRESENCE_MS_PER_CLIENT = 0.1;
/**
 * Fan-out spacing per live client (FanoutPacer): 100 clients get a flush at most every
 * 10 ms, 500 and more every 50 ms, so the socket writes of fan-out stay near a fifth of
 * the loop. At 1000 × 16 (bench, 2-3 rounds each): a 100 ms cap gave a fan-out p99 of
 * 475-506 ms, 50 ms 333 ms at the same edits/s, 30 ms 253-333 ms with a sixth fewer edits/s.
 */
const FANOUT_MS_PER_CLIENT = 0.1;
const FANOUT_MAX_MS = 50;

/** How long stop() waits for clients to answer the close handshake before cutting them off. */
const CLOSE_HANDSHAKE_MS = 2000;
/**
 * While draining, sockets stay open this long before the close frame so that transactions
 * already on the wire are answered with `rejected shutting_down` rather than lost in the close.
 */
const DRAIN_GRACE_MS = 500;

/**
 * The sync server: HTTP probes, the WebSocket endpoint, the single-writer engine,
 * presence and scheduled backups. start() and stop() are idempotent; only main.ts
 * installs signal handlers.
 */
export class SyncServer implements ConnectionHandlers {
  state: ServerState = "NEW";
  readonly metrics = new Metrics();
  private readonly log: Logger;
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  /** Connections that said hello: they count towards SYNC_MAX_CONNECTIONS and get broadcasts. */
  private readonly connections = new Set<Connection>();
  /** Upgraded, not yet hello'd; oldest first (Set keeps insertion order). */
  private readonly preHello = new Set<Connection>();
  private readonly perIp: PerIpConnections;
  private readonly storageGuard: StorageGuard;
  private readonly presenceState = new Presence();
  /** Live connections that get the full presence roster at the next tick. */
  private readonly needRoster = new Set<Connection>();
  private presenceTimer?: NodeJS.Timeout;
  private readonly fanout = new FanoutPacer(
    (entries) => this.sendCommits(entries),
    () => Math.min(FANOUT_MAX_MS, this.connections.size * FANOUT_MS_PER_CLIENT),
  );
  private snapshots?: SnapshotCache;
  private lock?: DataDirLock;
  private store?: SqliteStore;
  private engine?: SyncEngine;
  private queries?: QueryService;
  private timers: NodeJS.Timeout[] = [];
  private backupInFlight: Promise<unknown> = Promise.resolve();
  /** Why the last backup was not taken (no room for it), for the admin API's answer. */
  private backupSkipped: string | null = null;
  private starting?: Promise<AddressInfo>;
  private stopping?: Promise<void>;
  private restoring?: Promise<unknown>;
  /** A hello's `since` at or below this gets a snapshot: it may come from a history a restore replaced (storage/resync.ts). */
  private resyncThrough = 0;
  private readonly demo: DemoFiles | null;
  private readonly admin: AdminApi | null;

  constructor(
    readonly config: Config,
    private readonly options: ServerOptions,
  ) {
    this.log = options.logger;
    this.demo = config.demoDir === null ? null : loadDemo(config.demoDir);
    this.admin =
      config.admin.token === null
        ? null
        : new AdminApi(
            config,
            {
              state: () => this.state,
              problem: () => this.storageProblem()?.message ?? null,
              backupProblem: () => this.backupSkipped,
              engine: () => this.engine,
              connections: () => this.connections.size,
              backup: () => this.backup(),
              restore: (file) => this.restoreFrom(file),
            },
            this.log,
            options.version ?? "unknown",
          );
    this.http = http.createServer(
      // Check request deadlines often enough for the short headersTimeout below to bite.
      { connectionsCheckingInterval: Math.min(1000, config.security.helloTimeoutMs) },
      (req, res) =>
        void this.serveHttp(req, res).catch((err: unknown) => {
          // A handler's bug answers 500 (or drops the connection); it never ends the process.
          this.log.error({ err, url: String(req.url).slice(0, 200) }, "HTTP handler failed");
          if (!res.headersSent) {
            res.shouldKeepAlive = false;
            res.writeHead(500, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end("internal error\n");
          } else res.destroy();
        }),
    );
    // A peer that opens TCP and never finishes its request headers is cut off as soon as
    // one that never says hello.
    this.http.headersTimeout = config.security.helloTimeoutMs;
    // headersTimeout only bites once a request has begun: a socket that sends nothing is
    // cut off by the idle timeout (ws clears it on upgraded sockets).
    this.http.timeout = config.security.helloTimeoutMs;
    // A restore upload is one long request; it has its own deadline (SYNC_ADMIN_UPLOAD_TIMEOUT).
    this.http.requestTimeout = Math.max(config.security.helloTimeoutMs, 30_000, config.admin.token === null ? 0 : config.admin.uploadTimeoutMs + 5_000);
    // Node checks those timeouts on an interval and has been seen to miss a silent socket
    // under load; this deadline is exact. A connection that has not completed a request or
    // an upgrade within SYNC_HELLO_TIMEOUT is destroyed.
    const started = new WeakSet<object>();
    this.http.prependListener("request", (req: http.IncomingMessage) => started.add(req.socket));
    this.http.prependListener("upgrade", (req: http.IncomingMessage) => started.add(req.socket));
    this.http.on("connection", (socket: import("node:net").Socket) => {
      const deadline = setTimeout(() => {
        if (!started.has(socket)) socket.destroy();
      }, config.security.helloTimeoutMs);
      deadline.unref();
      socket.once("close", () => clearTimeout(deadline));
    });
    // No permessage-deflate: Connection.sendFrames writes prebuilt frames beside ws's own
    // sends, which is only in order while ws's sender never queues (it queues to compress).
    this.wss = new WebSocketServer({ noServer: true, maxPayload: config.limits.maxFrameBytes, clientTracking: false, perMessageDeflate: false });
    this.perIp = new PerIpConnections(config.security.maxConnectionsPerIp);
    this.storageGuard = new StorageGuard(config.dataDir, path.join(config.dataDir, DB_FILE), config.security);
    this.http.on("upgrade", (req, socket, head) => {
      // Until ws takes the socket over, nothing else listens for its errors (a peer's reset).
      socket.on("error", () => socket.destroy());
      try {
        this.upgrade(req, socket, head);
      } catch (err) {
        this.log.error({ err, url: String(req.url).slice(0, 200) }, "upgrade handler failed");
        socket.destroy();
      }
    });
  }

  /** An upgrade request: refused with a plain HTTP answer, or handed to ws. */
  private upgrade(req: http.IncomingMessage, socket: import("node:stream").Duplex, head: Buffer): void {
    const { config } = this;
    const url = requestUrl(req);
    if (!url) return refuseUpgrade(socket, 400, "bad request target");
    if (url.pathname !== WS_PATH || this.state !== "RUNNING") {
      return refuseUpgrade(socket, this.state === "RUNNING" ? 404 : 503, this.state === "RUNNING" ? "not found" : "not ready");
    }
    const verdict = checkUpgrade(req, { token: config.token, origins: config.security.allowedOrigins, trustedProxies: config.security.trustedProxies, perIp: this.perIp });
    if (!verdict.ok) {
      this.log.info({ ip: verdict.ip, status: verdict.status, origin: req.headers.origin }, `upgrade refused: ${verdict.reason}`);
      this.metrics.frameErrors.inc({ code: `http_${verdict.status}` });
      return refuseUpgrade(socket, verdict.status, verdict.reason);
    }
    socket.once("close", () => this.perIp.release(verdict.key));
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  get address(): AddressInfo {
    return this.http.address() as AddressInfo;
  }

  /** The engine, for the CLI and tests. */
  get sync(): SyncEngine {
    if (!this.engine) throw new Error("server not started");
    return this.engine;
  }

  start(): Promise<AddressInfo> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<AddressInfo> {
    this.state = "STARTING";
    const { config } = this;
    this.lock = DataDirLock.acquire(config.dataDir);
    try {
      this.removeAbandonedCopies();
      const failed = this.openRestored();
      if (failed) this.log.error({ err: failed }, "a restore that was cut short left a db that does not load; the previous db is back");
      await new Promise<void>((resolve, reject) => {
        this.http.once("error", reject);
        this.http.listen(config.port, config.host, () => {
          this.http.off("error", reject);
          resolve();
        });
      });
    } catch (err) {
      await this.queries?.stop();
      this.store?.close();
      this.lock.release();
      this.state = "CLOSED";
      throw err;
    }
    this.timers.push(setInterval(() => this.heartbeat(), config.heartbeatMs));
    if (config.backupIntervalMs > 0) this.timers.push(setInterval(() => void this.backup(), config.backupIntervalMs));
    for (const timer of this.timers) timer.unref();
    this.state = "RUNNING";
    this.log.info({ address: this.address, t: this.engine!.t, dataDir: config.dataDir, version: this.options.version }, "listening");
    return this.address;
  }

  /**
   * A backup or restore cut short by a crash leaves a copy as large as the db on the data
   * volume. Holding the data dir's lock, no restore or upload of ours can be running; a
   * backup still being written (the CLI's) holds its own lock and is left alone. Only
   * disk space is at stake: never a reason not to serve.
   */
  private removeAbandonedCopies(): void {
    const backups = removeAbandonedBackups(path.join(this.config.dataDir, BACKUP_DIR));
    const restores = removeAbandonedRestores(this.config.dataDir);
    this.reportSwept([...backups.removed, ...restores.removed], [...backups.problems, ...restores.problems]);
  }

  /**
   * Why this server cannot acknowledge writes now: a volume too full to take them, or a
   * log fsync that has not returned for SYNC_FSYNC_STALL (every ack waits for it; the
   * loop itself still answers). /readyz and the admin API's status report it.
   */
  private storageProblem(): { code: "storage_full" | "storage_stalled"; message: string } | null {
    const full = this.storageGuard.problem();
    if (full) return { code: "storage_full", message: full };
    const fsyncMs = this.engine?.fsyncRunningMs() ?? 0;
    if (fsyncMs < this.config.fsyncStallMs) return null;
    return { code: "storage_stalled", message: `the log's fsync has not returned for ${(fsyncMs / 1000).toFixed(1)} s (SYNC_FSYNC_STALL); writes wait for it, nothing acknowledged is lost` };
  }

  private reportSwept(removed: string[], problems: string[]): void {
    if (removed.length > 0) this.log.warn({ removed }, "removed copies left by a backup or restore cut short");
    if (problems.length > 0) this.log.error({ problems }, "could not remove copies left by a backup or restore cut short");
  }

  /** Opens the db in the data dir: the store, the engine (snapshot + log replay), queries, the snapshot cache. */
  private openData(): void {
    const { config } = this;
    const dbFile = path.join(config.dataDir, DB_FILE);
    const store = new SqliteStore(dbFile, this.options.version);
    const builder = new SnapshotBuilder(dbFile, datascriptSchema(SCHEMA), () => this.engine?.t ?? Number.MAX_SAFE_INTEGER);
    let engine: SyncEngine;
    try {
      const { from, to } = store.migration;
      if (from !== to) this.log.info({ from, to }, "migrations applied");
      engine = SyncEngine.open(store, {
        builder,
        snapshotOffThread: () => this.snapshots?.large ?? true,
        onSnapshot: (built) => this.snapshots?.offer(built),
        schema: SCHEMA,
        maxTxDatoms: config.limits.maxTxDatoms,
        snapshotEvery: config.snapshotEvery,
        logRetain: config.logRetain,
        logger: this.log,
        admit: () => this.storageGuard.refusal(),
        onGroupCommit: (size, seconds) => {
          this.metrics.groupSize.observe(size);
          this.metrics.commitSeconds.observe(seconds);
          this.metrics.transactions.inc(size);
        },
      });
    } catch (err) {
      // A db that does not load leaves nothing open (a restore then puts the old one back).
      store.close();
      void builder.close();
      throw err;
    }
    this.store = store;
    this.engine = engine;
    this.resyncThrough = readResyncThrough(store.db);
    engine.onCommit((entries) => this.broadcastCommits(entries));
    this.queries = new QueryService({
      dbFile,
      durableT: () => this.engine?.t ?? engine.t,
      size: config.queries.workers,
      timeoutMs: config.limits.queryTimeoutMs,
      memoryBytes: config.queries.memoryBytes,
      limits: { maxRows: config.queries.maxRows, maxBytes: config.queries.maxResultBytes },
      logger: this.log,
    });
    engine.onCommit((entries) => this.queries?.commit(entries));
    this.snapshots = new SnapshotCache(engine, builder);
    // Build the first frames now, on the worker, so the first joiner need not wait for them.
    void Promise.resolve(this.snapshots.get()).catch((err: unknown) => this.log.error({ err }, "first snapshot build failed"));
    this.metrics.t.set(engine.t);
  }

  /** Stops queries and snapshots, waits for a running backup, checkpoints the WAL and closes the db. */
  private async closeData(): Promise<void> {
    await this.queries?.stop();
    await this.backupInFlight;
    await this.engine?.close();
    this.store?.checkpoint();
    this.store?.close();
  }

  /**
   * Swaps a validated backup in without a process restart (POST /admin/restore): refuse new
   * sockets (503) and writes (rejected shutting_down), drain every client with 1012 as stop()
   * does, close the db, swap through the CLI's restore path (the old db is kept beside it as
   * sync.db.before-restore-<time>), reopen. If the new db fails to open, the old one goes
   * back and the error is thrown. Clients reconnect and catch up by snapshot or log.
   */
  restoreFrom(file: string): Promise<{ replaced: string | null; drained: number; replacedT: number }> {
    // doRestore leaves RUNNING before its first await, so a second call lands here.
    if (this.state !== "RUNNING") return Promise.reject(new Error(`the server is ${this.state.toLowerCase()}`));
    const run = this.doRestore(file);
    // stop() waits for a restore in progress.
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.restoring = settled;
    void settled.then(() => {
      if (this.restoring === settled) this.restoring = undefined;
    });
    return run;
  }

  private async doRestore(file: string): Promise<{ replaced: string | null; drained: number; replacedT: number }> {
    this.state = "RESTORING";
    let open = true;
    try {
      const drained = await this.drainSockets();
      // What the clients had been sent: the operator is told how much of it the restore takes back.
      const replacedT = this.engine!.t;
      await this.closeData();
      open = false;
      let replaced: string | null;
      try {
        replaced = this.swapIn(file).replaced;
      } catch (err) {
        // The swap failed (the disk filled during its copy, say) before the new db took the
        // old one's place, which it does in one rename: the old db is untouched, serve it.
        this.log.error({ err }, "restore swap failed; reopening the previous db");
        this.openData();
        open = true;
        throw err;
      }
      const failed = this.openRestored();
      open = true;
      if (failed) {
        this.log.error({ err: failed }, "restored db does not open; the previous one is back");
        throw failed;
      }
      // The new db carries the guard against the history it replaced (swapBackupIn), and openData read it.
      return { replaced, drained, replacedT };
    } finally {
      // Only a server whose db could not be reopened at all stays down (readyz 503).
      this.state = open ? "RUNNING" : "CLOSED";
    }
  }

  /**
   * Opens the db. When a restore has not yet seen its db load (restore-pending.json: an
   * online restore in progress, or one a crash or the CLI left) and it does not, the kept
   * copy goes back, is opened, and the load's error is returned.
   */
  private openRestored(): Error | null {
    const { pending, replaced } = pendingRestore(this.config.dataDir);
    let failed: Error | null = null;
    try {
      this.openData();
    } catch (err) {
      if (!pending || replaced === null) throw err;
      failed = err as Error;
      this.swapIn(replaced);
      this.openData();
    }
    if (pending) clearRestoreMarker(this.config.dataDir);
    return failed;
  }

  /** The CLI's restore path (its checks and the kept copy), under the lock this server holds. */
  private swapIn(file: string): { replaced: string | null } {
    return swapBackupIn(file, this.config.dataDir);
  }

  /** Writes a consistent backup now; scheduled backups call this too. */
  backup(): Promise<string | null> {
    const store = this.store;
    if (!store || this.state !== "RUNNING") return Promise.resolve(null);
    // Before the room check: a copy a killed CLI backup left would otherwise keep every scheduled one out.
    const swept = removeAbandonedBackups(path.join(this.config.dataDir, BACKUP_DIR));
    this.reportSwept(swept.removed, swept.problems);
    const full = this.storageGuard.problem() ?? roomForCopy(this.config.dataDir, store.byteSize(), this.config.security.minFreeBytes);
    this.backupSkipped = full;
    if (full) {
      this.log.warn({ reason: full }, "backup skipped: storage is full");
      return Promise.resolve(null);
    }
    const engine = this.engine!;
    const run = this.backupInFlight.then(async () => {
      try {
        // The committed db the copy holds: read in the same event-loop turn as the copy's last step.
        let at: { t: number; db: Db } | undefined;
        const copy = {
          backupTo: async (p: string) => {
            await store.backupTo(p);
            at = { t: engine.t, db: engine.db };
            // The copy is the committed db at t: nothing written after it and not yet durable.
            trimLogAfter(p, at.t);
          },
        };
        const file = await writeBackup(copy, path.join(this.config.dataDir, BACKUP_DIR), this.config.backupKeep, new Date(), (swept) => this.reportSwept(swept.removed, swept.problems));
        if (at) void this.admin?.backedUp(file, at);
        this.log.info({ file, t: at?.t }, "backup written");
        return file;
      } catch (err) {
        this.log.error({ err }, "backup failed");
        return null;
      }
    });
    this.backupInFlight = run;
    return run;
  }

  /**
   * Stops accepting, commits and acks what is in flight, closes every socket with
   * 1012, checkpoints the WAL and closes the db. Safe to call twice.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    await this.restoring;
    if (this.state === "CLOSED") {
      // A restore whose db could not be reopened: no db is open, but the listener, the
      // timers and the data dir's lock still are.
      for (const timer of this.timers) clearInterval(timer);
      clearTimeout(this.presenceTimer);
      this.fanout.stop();
      this.http.closeAllConnections();
      await new Promise<void>((resolve) => this.http.close(() => resolve()));
      this.lock?.release();
      return;
    }
    this.state = "CLOSING";
    this.log.info({ connections: this.connections.size }, "shutting down");
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.presenceTimer);
    const httpClosed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    await this.drainSockets();
    await this.queries?.stop();
    this.http.closeAllConnections();
    await httpClosed;
    this.fanout.stop();
    await this.closeData();
    this.lock?.release();
    this.state = "CLOSED";
    this.log.info({ t: this.engine?.t }, "shutdown complete");
  }

  /**
   * Commits what is in flight, then closes every socket with 1012 (clients reconnect).
   * The caller has left RUNNING, so transact() answers rejected shutting_down; frames
   * already on the wire get that answer before the close frame goes out. Returns how
   * many sockets it closed.
   */
  private async drainSockets(): Promise<number> {
    // Everything accepted becomes durable and acked first (acks leave only after the fsync).
    await this.engine?.drain();
    // From here transact() answers rejected shutting_down; give frames already in flight
    // time to arrive and get that answer before the close frame goes out.
    if (this.connections.size > 0) await new Promise((resolve) => setTimeout(resolve, DRAIN_GRACE_MS));
    await this.engine?.drain();
    // Every acknowledged transaction reaches the live clients before their close frame.
    this.fanout.flush();
    const sockets = [...this.connections, ...this.preHello];
    const socketsClosed = sockets.map(
      (conn) =>
        new Promise<void>((resolve) => {
          conn.ws.once("close", () => resolve());
          conn.close(CloseCode.SERVICE_RESTART, "server restarting");
          setTimeout(() => {
            conn.ws.terminate();
            resolve();
          }, CLOSE_HANDSHAKE_MS).unref();
        }),
    );
    await Promise.all(socketsClosed);
    return sockets.length;
  }

  private async serveHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    const url = requestUrl(req);
    if (!url) {
      res.shouldKeepAlive = false;
      return reply(400, "bad request target\n");
    }
    // With the admin API on, the request deadline is the long upload deadline; only a restore
    // upload may take that long, so any other request's body ends the connection after the answer.
    if (this.admin && !url.pathname.startsWith(ADMIN_PREFIX) && (req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0)) res.shouldKeepAlive = false;
    if (url.pathname.startsWith(ADMIN_PREFIX)) {
      // Without SYNC_ADMIN_TOKEN the admin API does not exist.
      if (this.admin) return this.admin.handle(req, res, url.pathname);
      res.shouldKeepAlive = false;
      return reply(404, "not found\n");
    }
    if (req.method !== "GET" && req.method !== "HEAD") return reply(405, "method not allowed\n");
    switch (url.pathname) {
      case "/healthz":
        return reply(200, "ok\n");
      case "/readyz": {
        if (this.state !== "RUNNING") return reply(503, `${this.state.toLowerCase()}\n`);
        const problem = this.storageProblem();
        return problem ? reply(503, `${problem.code}: ${problem.message}\n`) : reply(200, `ready t=${this.engine?.t}\n`);
      }
      case "/metrics":
        this.metrics.connections.set(this.connections.size);
        this.metrics.fsyncRunning.set((this.engine?.fsyncRunningMs() ?? 0) / 1000);
        return reply(200, await this.metrics.registry.metrics(), this.metrics.registry.contentType);
      default: {
        const file = this.demo?.get(url.pathname);
        return file ? serveDemo(file, req, res) : reply(404, "not found\n");
      }
    }
  }

  /**
   * A socket that passed the upgrade gate waits for hello outside the connection limit,
   * in a bounded pool: past SYNC_MAX_PRE_HELLO_CONNECTIONS the oldest waiting socket is
   * closed, so idle sockets can neither lock out real clients nor grow without bound.
   */
  private accept(ws: WebSocket): void {
    const { limits, security } = this.config;
    const conn = new Connection(ws, this, { messagesPerSecond: limits.messagesPerSecond, bytesPerMinute: security.bytesPerMinute, helloTimeoutMs: security.helloTimeoutMs }, this.log, limits.maxBufferedBytes);
    this.preHello.add(conn);
    if (this.preHello.size > security.maxPreHello) {
      const oldest = this.preHello.values().next().value!;
      this.preHello.delete(oldest);
      oldest.fail(ErrorCode.TOO_MANY_CONNECTIONS, "too many connections waiting for hello; send hello right after connecting", CloseCode.TRY_AGAIN_LATER);
    }
  }

  // --- ConnectionHandlers -------------------------------------------------------

  hello(conn: Connection, msg: { protocol: number; name: string; since?: number; jwt?: string }): void {
    if (msg.protocol !== PROTOCOL_VERSION) {
      return conn.fail(ErrorCode.UNSUPPORTED_PROTOCOL, `this server speaks protocol ${PROTOCOL_VERSION}, not ${msg.protocol}`, CloseCode.PROTOCOL_ERROR);
    }
    let name = msg.name;
    if (this.config.jwtSecret !== null) {
      try {
        if (msg.jwt === undefined) throw new Error("this server requires a JWT in hello");
        const jwt = verifiedJwt(msg.jwt, { secret: this.config.jwtSecret, audience: this.config.security.jwtAudience, issuer: this.config.security.jwtIssuer });
        name = jwt.sub;
        // The token is the connection's authority: once it expires, so does the connection
        // (it used to hold only at hello, and a socket kept writing under its sub for as
        // long as it lived). The client reconnects with a fresh token.
        conn.closeAt(jwt.expiresAtMs, ErrorCode.BAD_JWT, "JWT has expired; reconnect with a fresh one");
      } catch (err) {
        // verifyJwt's messages are our own fixed texts.
        return conn.fail(ErrorCode.BAD_JWT, (err as Error).message, CloseCode.POLICY_VIOLATION);
      }
    }
    if (this.connections.size >= this.config.limits.maxConnections) {
      return conn.fail(ErrorCode.TOO_MANY_CONNECTIONS, "the server is full; retry later", CloseCode.TRY_AGAIN_LATER);
    }
    this.preHello.delete(conn);
    this.connections.add(conn);
    this.metrics.connections.set(this.connections.size);
    const engine = this.sync;
    conn.name = name;
    this.presenceState.join(conn.session, name);
    this.schedulePresence();
    conn.log.info({ name, since: msg.since }, "hello");
    // The roster is not inline: it follows once per presence tick, shared by every newcomer.
    conn.send({ type: "welcome", protocol: PROTOCOL_VERSION, session: conn.session, name, t: engine.t, online: this.presenceState.size });
    new CatchUpPump(conn, engine, this.snapshots!, () => {
      // The catch-up ran to the durable t: what is still waiting for the fan-out goes to
      // the clients live before this one, never to it twice.
      this.fanout.flush();
      conn.live = true;
      this.needRoster.add(conn);
      this.schedulePresence();
    }).start(usableSince(msg.since, this.resyncThrough));
  }

  transact(conn: Connection, msg: { id: string; tx: unknown[] }): void {
    if (this.state !== "RUNNING") {
      conn.send({ type: "rejected", id: msg.id, code: ErrorCode.SHUTTING_DOWN, message: "the server is restarting; resend after reconnecting" });
      return;
    }
    this.sync.submit(conn.name!, msg.id, msg.tx, (result) => {
      // Acks go out in the commit group's turn, just before its txs frame: one write for both.
      conn.holdWritesForTick();
      if (result.ok) {
        conn.send({ type: "ack", id: msg.id, t: result.ack.t, tempids: result.ack.tempids });
      } else {
        this.metrics.rejected.inc({ code: result.error.code });
        conn.send({ type: "rejected", id: msg.id, code: result.error.code, message: result.error.message });
      }
    });
  }

  presence(conn: Connection, msg: { page?: string | null; block?: string | null }): void {
    if (this.presenceState.update(conn.session, msg.page, msg.block)) this.schedulePresence();
  }

  query(conn: Connection, msg: { id: string; query: string; args: unknown[] }): void {
    this.queries!.handle(conn, { type: "q", ...msg });
  }

  closed(conn: Connection): void {
    this.queries?.closed(conn);
    this.preHello.delete(conn);
    if (!this.connections.delete(conn)) return;
    this.metrics.connections.set(this.connections.size);
    this.needRoster.delete(conn);
    if (this.presenceState.leave(conn.session)) this.schedulePresence();
  }

  errorSent(code: ErrorCode): void {
    this.metrics.frameErrors.inc({ code });
  }

  // -------------------------------------------------------------------------------

  /** Durable groups: into the snapshot cache now, to the clients at the fan-out's pace. */
  private broadcastCommits(entries: readonly LogEntry[]): void {
    this.metrics.t.set(this.sync.t);
    this.snapshots?.committed(entries);
    this.fanout.push(entries);
  }

  /**
   * What became durable since the last flush goes to each live client as one socket write
   * of frames encoded and framed once. Writers with acks held for this tick go first, and
   * their hold ends with the frames: otherwise their acks would leave after every other
   * client's write.
   */
  private sendCommits(entries: readonly LogEntry[]): void {
    const wire = textFrames(encodeTxs(entries));
    const later: Connection[] = [];
    for (const conn of this.connections) {
      if (!conn.live) continue;
      if (!conn.holdingWrites) {
        later.push(conn);
        continue;
      }
      conn.sendFrames(wire);
      conn.releaseHeldWrites();
    }
    for (const conn of later) conn.sendFrames(wire);
  }

  /**
   * Arms the presence tick when there is something to send: announcements or newcomers
   * after SYNC_PRESENCE_INTERVAL, a changed online count alone once it is due.
   */
  private schedulePresence(): void {
    if (this.presenceTimer || this.state === "CLOSING" || this.state === "CLOSED") return;
    const p = this.presenceState;
    if (!p.dirty && this.needRoster.size === 0 && !p.countChanged) return;
    // A tick costs one socket write per live client (~20 µs each). With thousands online,
    // stretch the interval so presence never takes more than about a fifth of the loop.
    let interval = Math.max(this.config.presenceIntervalMs, this.connections.size * PRESENCE_MS_PER_CLIENT);
    if (!p.dirty && this.needRoster.size === 0) interval = Math.max(interval, p.countDueAt() - Date.now());
    this.presenceTimer = setTimeout(() => this.presenceTick(), interval);
    this.presenceTimer.unref();
  }

  /** Sends the presence changes since the last tick: the roster to newcomers, a delta to everyone else. */
  private presenceTick(): void {
    this.presenceTimer = undefined;
    const { delta, roster } = this.presenceState.tick(this.needRoster.size > 0, Date.now());
    const deltaWire = delta && textFrames([encode(delta)]);
    const rosterWire = roster && textFrames([encode(roster)]);
    for (const conn of this.connections) {
      if (!conn.live) continue;
      if (this.needRoster.has(conn)) conn.sendFrames(rosterWire!);
      else if (deltaWire) conn.sendFrames(deltaWire);
    }
    this.needRoster.clear();
    // A count change that was not yet due goes out with a later tick.
    this.schedulePresence();
  }

  /** Terminates sockets that did not answer the previous ping with its payload. */
  private heartbeat(): void {
    for (const conn of this.connections) conn.heartbeat();
  }
}
