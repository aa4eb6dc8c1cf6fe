import { ErrorCode } from "../../protocol/src/codes";
import { CloseCode, PROTOCOL_VERSION, type PresenceEntry, type TxEntry, type WireDatom } from "../../protocol/src/frames";
import type { ClientMessage } from "../../protocol/src/schemas";
import { type BackoffOptions, type CloseAction, DEFAULT_BACKOFF, RETRY_LATER_ATTEMPT, backoffDelay, closeAction } from "./backoff";
import { ClientErrorCode, SyncClientError } from "./errors";
import type { Persistence } from "./persist";
import { type Db, Replica } from "./replica";
import { OPEN, type SocketLike, type WebSocketConstructor, closeSocket, frameText, isMaxPayloadError, openSocket } from "./transport";
import { type CheckedFrame, ProtocolViolation, parseServerFrame } from "./server-frames";
import { uuid } from "./uuid";

/** See the state machine in README.md. */
export type Status = "connecting" | "catching-up" | "live" | "offline" | "failed";

export interface ConnectOptions {
  /** The server's WebSocket URL, e.g. wss://sync.example.com/ws. */
  readonly url: string;
  /** The deployment's access token (SYNC_TOKEN). */
  readonly token?: string;
  /** A JWT for servers with SYNC_JWT_SECRET; a function is called on every (re)connect, so it can refresh. */
  readonly jwt?: string | (() => string | Promise<string>);
  /** Shown to others in presence; a JWT's `sub` replaces it. */
  readonly name: string;
  /**
   * Appear in everyone's presence list as soon as this client is live (default true). With
   * false it appears only after setPresence(), like a background tab or a script that should
   * not; it still counts in `online`.
   */
  readonly sharePresence?: boolean;
  /** Node: the `ws` package's WebSocket (sends the token as a header). Browsers: leave unset. */
  readonly WebSocket?: WebSocketConstructor;
  /** Keep the replica and the queue across reloads, e.g. indexedDbPersistence("notes"). */
  readonly persist?: Persistence;
  readonly backoff?: Partial<BackoffOptions>;
  /** Client-side pacing, under the server's SYNC_RATE_LIMIT (200 by default). */
  readonly maxMessagesPerSecond?: number;
  /** A connection that has no welcome after this long is dropped and retried. */
  readonly welcomeTimeoutMs?: number;
  /**
   * The largest frame accepted from the server (default 64 MiB, the largest SYNC_MAX_FRAME_BYTES
   * a server allows). A larger one is a protocol error: the connection is closed (1009) and
   * retried. In Node, `ws` stops reading at this size; a browser has read it by then.
   */
  readonly maxFrameBytes?: number;
  /**
   * At most this many transactions wait for their ack (default 10,000): queued while
   * offline, or in flight. Past it, transact() rejects at once with `queue_full`, so an app
   * that keeps writing through a long outage gets told instead of growing without bound.
   */
  readonly maxQueuedTransactions?: number;
  /** At most this many bytes of transaction frames wait for their ack (default 64 MiB); past it, `queue_full`. */
  readonly maxQueuedBytes?: number;
  /**
   * A catch-up (welcome to synced) may bring at most this many bytes of frames (default
   * 512 MiB); a server that sends more without saying synced is a protocol error: the
   * connection is closed (1002) and retried, and what it sent is dropped.
   */
  readonly maxCatchUpBytes?: number;
  /** A catch-up during which the server sends nothing for this long (default 60 s) is dropped and retried. */
  readonly catchUpStallMs?: number;
  /** For tests: the jitter's randomness. */
  readonly random?: () => number;
}

/** A committed transaction as applied to the replica. */
export interface TxReport {
  readonly t: number;
  /** Every datom the transaction changed, retractions included, as [e, a, v, t, added]. */
  readonly datoms: WireDatom[];
  readonly author: string;
  readonly time: number;
  /** True while catching up after a (re)connect, false for live transactions. */
  readonly catchUp: boolean;
}

/** What transact() resolves to, once the transaction is durable and applied to the replica. */
export interface Ack {
  readonly id: string;
  readonly t: number;
  /** Each tempid (as a string) to the entity id the server gave it. */
  readonly tempids: Record<string, number>;
}

export type Presence = PresenceEntry;

interface Events {
  status: (status: Status, error: SyncClientError | null) => void;
  tx: (report: TxReport) => void;
  snapshot: (t: number) => void;
  /** `everyone` who shares their presence (this client included once it does); `online` counts all. */
  presence: (everyone: Presence[], online: number) => void;
  error: (error: SyncClientError) => void;
}

interface Pending {
  readonly id: string;
  readonly tx: unknown[];
  /** Its transact frame, serialized once: every (re)send is the same text. */
  readonly frame: string;
  /** The frame's size in UTF-8 bytes, what counts against maxQueuedBytes and SYNC_MAX_FRAME_BYTES. */
  readonly size: number;
  /** Absent for transactions reloaded from persistence: nobody awaits them. */
  readonly resolve?: (ack: Ack) => void;
  readonly reject?: (err: SyncClientError) => void;
  /** The connection it was last sent on; -1 when not sent on the current one. */
  sentOn: number;
  /** Waiting in the send queue: a resend while it waits would send it twice. */
  queued?: boolean;
}

/** A frame waiting for a token; a transaction's frame remembers its transaction. */
interface Queued {
  readonly frame: string;
  readonly pending?: Pending;
}

/** Once a server is known to drop frames (rate_limited), resend unacked ones after this. */
const RATE_LIMITED_RESEND_MS = 1000;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_QUEUED_TRANSACTIONS = 10_000;
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_CATCH_UP_BYTES = 512 * 1024 * 1024;
export const DEFAULT_CATCH_UP_STALL_MS = 60_000;
/** A connection live this long clears the protocol-error strikes against the server. */
const STABLE_MS = 60_000;
/** stats.closeCodes keeps the last this many. */
const CLOSE_CODES_KEPT = 100;

/** Where this connection is in the protocol, for checking the order of the server's frames. */
interface ConnectionState {
  welcomed: boolean;
  synced: boolean;
  /** The t this connection's catch-up stream has reached (a snapshot's or a tx's); null before either. */
  stream: number | null;
}

/**
 * A connection to the sync server with a local, read-only datascript replica.
 * Create one with connect(). Never throws from socket events; failures surface as
 * status "failed" with `error`, rejected transact() promises and "error" events.
 */
export class SyncClient {
  private readonly replica = new Replica();
  private statusValue: Status = "connecting";
  private errorValue: SyncClientError | null = null;
  private readonly listeners: { [K in keyof Events]: Set<Events[K]> } = {
    status: new Set(),
    tx: new Set(),
    snapshot: new Set(),
    presence: new Set(),
    error: new Set(),
  };
  /** Unacked transactions in the order the app made them (Map keeps insertion order). */
  private readonly outbox = new Map<string, Pending>();
  /** The sum of the outbox's frame sizes. */
  private outboxBytes = 0;
  /** Called by close(): whenLive()'s waiters. */
  private readonly onClose = new Set<() => void>();
  /** Acked, waiting for the replica to reach their t. */
  private awaitingApply: Array<{ ack: Ack; resolve?: (ack: Ack) => void }> = [];
  private readonly people = new Map<string, Presence>();
  private myPresence: { page: string | null; block: string | null } | null = null;
  private onlineCount = 0;
  private sessionId: string | null = null;
  private nameValue: string;
  private socket: SocketLike | null = null;
  /** Bumped per socket, so events of an old socket never touch the new one. */
  private generation = 0;
  private attempts = 0;
  private closedByApp = false;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  /**
   * A snapshot being received: its chunks and the txs after it, until synced. The
   * snapshot's t may be older than the replica's (snapshots are cached and shared), so
   * those txs are held here and applied on top of it, never skipped against the old t.
   */
  private catchUp: { t: number; chunks: WireDatom[][]; txs: TxEntry[] } | null = null;
  private conn: ConnectionState = { welcomed: false, synced: false, stream: null };
  /** Connections ended by a protocol error since the server last stayed live for STABLE_MS: the backoff's floor. */
  private strikes = 0;
  private liveSince = 0;
  private readonly sendQueue: Queued[] = [];
  /** A resend after rate_limited is scheduled on this connection: further ones join it. */
  private resendArmed = false;
  private tokens: number;
  private lastRefill = Date.now();
  private pumpTimer: ReturnType<typeof setTimeout> | null = null;
  private seq = Date.now() * 1000;
  private saveTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly backoff: BackoffOptions;
  private readonly rate: number;
  private readonly loaded: Promise<void>;
  /** Counters for tests and dashboards. */
  readonly stats = { connects: 0, snapshots: 0, catchUpTxs: 0, liveTxs: 0, lastSince: undefined as number | undefined, closeCodes: [] as number[] };

  constructor(private readonly options: ConnectOptions) {
    this.nameValue = options.name;
    // Shared from the start unless the app opts out: others see this client as soon as it is live.
    if (options.sharePresence !== false) this.myPresence = { page: null, block: null };
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.rate = options.maxMessagesPerSecond ?? 100;
    this.tokens = this.rate;
    this.loaded = this.restore();
    void this.loaded.then(() => this.open());
    const g = globalThis as { addEventListener?: (type: string, fn: () => void) => void };
    // A browser that regains its network need not wait out the backoff.
    g.addEventListener?.("online", this.onBrowserOnline);
  }

  // --- reading -------------------------------------------------------------------

  /** The replica: an immutable datascript db; read it with q(), or datascript's own functions. */
  get db(): Db {
    return this.replica.db;
  }

  /** The highest server tx id applied to the replica. */
  get t(): number {
    return this.replica.t;
  }

  get status(): Status {
    return this.statusValue;
  }

  /** Why the client stopped, when status is "failed". */
  get error(): SyncClientError | null {
    return this.errorValue;
  }

  /** This connection's server-assigned session (null before the first welcome). */
  get session(): string | null {
    return this.sessionId;
  }

  /** The name the server knows this client by (a JWT's sub when the server uses JWTs). */
  get name(): string {
    return this.nameValue;
  }

  /** Everyone online who shares their presence, this client included once it does; empty while not connected. */
  get presence(): Presence[] {
    return [...this.people.values()];
  }

  /** How many are online, sharing their presence or not (this client included); 0 while not connected. */
  get online(): number {
    return this.onlineCount;
  }

  /** Transactions not yet acked, queued or in flight. */
  get pending(): number {
    return this.outbox.size;
  }

  /** Runs a Datalog query (EDN) on the replica; args are extra inputs after the db. */
  q<T = unknown>(query: string, ...args: unknown[]): T {
    return this.replica.q<T>(query, ...args);
  }

  /** [e, a, v, tx] of every datom in the replica. */
  datoms(): Array<[number, string, string | number | boolean, number]> {
    return this.replica.datoms();
  }

  // --- events ----------------------------------------------------------------------

  on<K extends keyof Events>(event: K, fn: Events[K]): () => void {
    this.listeners[event].add(fn);
    return () => this.listeners[event].delete(fn);
  }

  /** Calls fn with each transaction applied to the replica (catch-up and live). */
  listen(fn: (report: TxReport) => void): () => void {
    return this.on("tx", fn);
  }

  /** Resolves when the client is next live (at once if it is); rejects if it fails or is closed. */
  whenLive(): Promise<void> {
    if (this.closedByApp) return Promise.reject(closedError());
    if (this.statusValue === "live") return Promise.resolve();
    if (this.statusValue === "failed") return Promise.reject(this.errorValue);
    return new Promise((resolve, reject) => {
      const settle = (err?: SyncClientError | null) => {
        off();
        this.onClose.delete(onClosed);
        if (err === undefined) resolve();
        else reject(err);
      };
      // close() may leave the status as it was (offline): it is told apart, not awaited.
      const onClosed = () => settle(closedError());
      this.onClose.add(onClosed);
      const off = this.on("status", (status, error) => {
        if (status === "live") settle();
        else if (status === "failed") settle(error);
      });
    });
  }

  private emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const fn of [...this.listeners[event]]) {
      try {
        (fn as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (err) {
        // An app's listener must not break the sync loop, nor (rethrown from a timer, as
        // this did) end a Node app's process: it is surfaced as an "error" event, and an
        // "error" listener's own throw on the console.
        if (event === "error" || this.listeners.error.size === 0) console.error("sync client: a listener threw", err);
        else this.emit("error", new SyncClientError(ClientErrorCode.LISTENER_FAILED, `a "${event}" listener threw: ${(err as Error)?.message ?? err}`));
      }
    }
  }

  // --- writing ---------------------------------------------------------------------

  /**
   * Sends tx-data to the server (queued in order while offline). Resolves with the ack
   * once the transaction is durable on the server and applied to the replica, so a
   * query right after `await` sees it. Rejects with the server's code (e.g. "tx_failed").
   */
  transact(tx: unknown[]): Promise<Ack> {
    if (this.closedByApp) return Promise.reject(closedError());
    // A failed client never sends again: its transaction would wait forever.
    if (this.statusValue === "failed") return Promise.reject(this.errorValue);
    if (!Array.isArray(tx) || tx.length === 0) {
      return Promise.reject(new SyncClientError(ErrorCode.INVALID_TX, "tx-data must be a non-empty list of maps or op vectors"));
    }
    const id = uuid();
    let frame: { frame: string; size: number };
    try {
      frame = transactFrame(id, tx);
    } catch (err) {
      // A cycle or a BigInt: it could never be sent, so it must never enter the queue.
      return Promise.reject(new SyncClientError(ErrorCode.INVALID_TX, `tx-data cannot be serialized as JSON: ${(err as Error).message}`));
    }
    const { size } = frame;
    const maxCount = this.options.maxQueuedTransactions ?? DEFAULT_MAX_QUEUED_TRANSACTIONS;
    const maxBytes = this.options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    if (this.outbox.size >= maxCount || this.outboxBytes + size > maxBytes) {
      const message = `${this.outbox.size} transactions (${this.outboxBytes} bytes) are waiting for the server's ack, the most this client queues (maxQueuedTransactions ${maxCount}, maxQueuedBytes ${maxBytes}); retry once some have settled`;
      return Promise.reject(new SyncClientError(ClientErrorCode.QUEUE_FULL, message));
    }
    return new Promise<Ack>((resolve, reject) => {
      const pending: Pending = { id, tx, ...frame, resolve, reject, sentOn: -1 };
      this.enterOutbox(pending);
      void this.options.persist?.putTx(this.seq++, id, tx).catch((err) => this.persistFailed(err));
      if (this.statusValue === "live") this.sendTx(pending);
    });
  }

  /** Tells everyone which page and block this client is on; null clears. */
  setPresence(focus: { page?: string | null; block?: string | null }): void {
    this.myPresence = { page: focus.page ?? null, block: focus.block ?? null };
    if (this.statusValue === "live") this.sendPresence();
  }

  /**
   * Drops the current connection and reconnects through the usual path (offline, backoff,
   * hello with since). While offline, it retries at once instead of waiting out the
   * backoff: for an app that knows its network changed (tests use it too), not for every
   * "offline" event, which would retry without pause.
   */
  reconnect(): void {
    if (this.closedByApp || this.statusValue === "failed") return;
    const socket = this.socket;
    if (socket) {
      const gen = this.generation;
      socket.close(4001, "reconnect requested");
      // Do not wait for the server's half of the close handshake.
      if (gen === this.generation) this.disconnected(4001, "reconnect requested", null);
    } else if (this.statusValue === "offline") {
      this.onBrowserOnline();
    }
  }

  /** Closes the socket for good. Unacked transactions are rejected (a persisted queue keeps them for the next connect). */
  close(): void {
    if (this.closedByApp) return;
    this.closedByApp = true;
    const g = globalThis as { removeEventListener?: (type: string, fn: () => void) => void };
    g.removeEventListener?.("online", this.onBrowserOnline);
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.flushSave();
    const socket = this.socket;
    this.socket = null;
    this.generation++;
    socket?.close(1000, "client closed");
    this.people.clear();
    this.rejectAll(closedError());
    this.setStatus("offline");
    for (const hook of [...this.onClose]) hook();
    this.options.persist?.close();
  }

  // --- the state machine -----------------------------------------------------------

  private setStatus(status: Status, error: SyncClientError | null = null): void {
    if (status === this.statusValue && error === null) return;
    this.statusValue = status;
    if (error) this.errorValue = error;
    this.emit("status", status, error);
  }

  private async restore(): Promise<void> {
    const persist = this.options.persist;
    if (!persist) return;
    try {
      const state = await persist.load();
      if (!state) return;
      // Accepted under the bounds before the reload, so they all come back, and count
      // against them. They were made first, so they go first: a transact() made while
      // load() ran (its own may be among them, persisted meanwhile) follows them.
      const madeMeanwhile = new Map(this.outbox);
      this.outbox.clear();
      this.outboxBytes = 0;
      for (const { id, tx } of state.outbox) {
        const own = madeMeanwhile.get(id);
        if (own) {
          madeMeanwhile.delete(id);
          this.enterOutbox(own);
          continue;
        }
        let frame: { frame: string; size: number };
        try {
          frame = transactFrame(id, tx);
        } catch {
          continue; // not JSON: it could never be sent
        }
        this.enterOutbox({ id, tx, ...frame, sentOn: -1 });
      }
      for (const pending of madeMeanwhile.values()) this.enterOutbox(pending);
      if (state.t > 0) {
        this.replica.reset(state.t, state.datoms);
        this.emit("snapshot", state.t); // the replica was replaced: views re-render
      }
    } catch (err) {
      this.persistFailed(err);
    }
  }

  /** connecting: open a socket and say hello. */
  private open(): void {
    if (this.closedByApp || this.statusValue === "failed") return;
    const gen = ++this.generation;
    this.setStatus("connecting");
    // A "status" listener may have closed the client, or made it reconnect.
    if (this.closedByApp || gen !== this.generation) return;
    this.stats.connects++;
    let socket: SocketLike;
    try {
      socket = openSocket(this.options.url, this.options.token, this.options.WebSocket, this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    } catch (err) {
      return this.fail(new SyncClientError(ClientErrorCode.POLICY, (err as Error).message));
    }
    this.socket = socket;
    this.conn = { welcomed: false, synced: false, stream: null };
    const maxFrameBytes = this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    let lastError: { code: string; message: string } | null = null;
    const welcomeTimer = this.after(this.options.welcomeTimeoutMs ?? 15_000, () => {
      if (gen === this.generation && this.statusValue === "connecting") socket.close(4000, "no welcome in time");
    });
    socket.onopen = () => {
      if (gen !== this.generation) return;
      void this.hello(gen);
    };
    const maxCatchUpBytes = this.options.maxCatchUpBytes ?? DEFAULT_MAX_CATCH_UP_BYTES;
    let catchUpBytes = 0;
    // Armed at welcome and again at each frame until synced: a server may stream a big
    // catch-up slowly, but not stop in the middle of one and hold it.
    let stallTimer: ReturnType<typeof setTimeout> | null = null;
    const armStall = () => {
      if (stallTimer) this.cancel(stallTimer);
      stallTimer = this.after(this.options.catchUpStallMs ?? DEFAULT_CATCH_UP_STALL_MS, () => {
        if (gen === this.generation && !this.conn.synced) socket.close(4000, "catch-up stalled");
      });
    };
    socket.onmessage = (ev) => {
      if (gen !== this.generation) return;
      // Nothing a server sends may throw out of here: in Node that would end the app's process.
      try {
        const text = frameText(ev.data);
        const msg = parseServerFrame(text, maxFrameBytes);
        if (msg.type === "error") lastError = msg;
        if (msg.type === "welcome") this.cancel(welcomeTimer);
        this.dispatch(msg, gen);
        if (gen !== this.generation || !this.conn.welcomed) return;
        if (this.conn.synced) {
          if (stallTimer) this.cancel(stallTimer);
          stallTimer = null;
          return;
        }
        armStall();
        catchUpBytes += text === null ? 0 : utf8Length(text);
        if (catchUpBytes > maxCatchUpBytes) throw new ProtocolViolation(`a catch-up of more than maxCatchUpBytes (${maxCatchUpBytes}) without synced`);
      } catch (err) {
        this.violation(gen, err instanceof ProtocolViolation ? err : new ProtocolViolation(`a frame the client could not apply (${(err as Error)?.message ?? err})`));
      }
    };
    // The server refuses a bad token (401), a foreign Origin (403) or a full address (429)
    // with a plain HTTP answer before any WebSocket exists. `ws` (Node) names the status in
    // its error; a browser hides it (the close is a bare 1006, retried with backoff).
    let refusedWith: number | null = null;
    socket.onerror = (ev) => {
      // `ws` (Node) stopped reading a frame over maxFrameBytes; it closes the socket itself.
      if (isMaxPayloadError(ev) && gen === this.generation) return this.violation(gen, new ProtocolViolation(`a frame over maxFrameBytes (${maxFrameBytes})`, 1009));
      const status = /Unexpected server response: (\d{3})/.exec(String((ev as { message?: unknown } | null)?.message ?? ""));
      if (status) refusedWith = Number(status[1]);
    }; // always followed by onclose, which decides
    socket.onclose = (ev) => {
      if (gen !== this.generation) return;
      this.cancel(welcomeTimer);
      if (refusedWith === 401 || refusedWith === 403) {
        const code = refusedWith === 401 ? ErrorCode.UNAUTHORIZED : ClientErrorCode.POLICY;
        return this.disconnected(CloseCode.POLICY_VIOLATION, "", { code, message: `the server refused the WebSocket upgrade with HTTP ${refusedWith}` });
      }
      if (refusedWith === 429 || refusedWith === 503) return this.disconnected(CloseCode.TRY_AGAIN_LATER, "", lastError);
      this.disconnected(ev.code, ev.reason, lastError);
    };
  }

  private async hello(gen: number): Promise<void> {
    let jwt: string | undefined;
    try {
      jwt = typeof this.options.jwt === "function" ? await this.options.jwt() : this.options.jwt;
    } catch (err) {
      if (gen !== this.generation) return; // closed or reconnected meanwhile
      this.socket?.close(1000, "jwt callback failed");
      this.socket = null;
      this.generation++;
      return this.fail(new SyncClientError(ErrorCode.BAD_JWT, `the jwt callback failed: ${(err as Error)?.message ?? err}`));
    }
    if (gen !== this.generation) return;
    const since = this.replica.t > 0 ? this.replica.t : undefined;
    this.stats.lastSince = since;
    const hello: ClientMessage = { type: "hello", protocol: PROTOCOL_VERSION, name: this.options.name };
    if (since !== undefined) hello.since = since;
    if (jwt !== undefined) hello.jwt = jwt;
    this.enqueue(hello);
  }

  /**
   * Every server frame goes through here, in order, already checked for shape
   * (server-frames.ts). Here the order is checked: welcome first and once, a snapshot's
   * chunks together and only during catch-up, every t exactly one past the last, synced at
   * the t the stream reached. A frame out of order throws ProtocolViolation before it
   * changes anything. A frame type this client does not know is ignored, so a newer
   * server's additions do not break it.
   */
  private dispatch(msg: CheckedFrame, gen: number): void {
    const conn = this.conn;
    if (!conn.welcomed && msg.type !== "welcome" && msg.type !== "error" && msg.type !== "unknown") {
      throw new ProtocolViolation(`a ${msg.type} frame before welcome`);
    }
    switch (msg.type) {
      case "welcome":
        if (conn.welcomed) throw new ProtocolViolation("a second welcome on one connection");
        if (msg.protocol !== PROTOCOL_VERSION) return this.wrongVersion(msg.protocol);
        conn.welcomed = true;
        // `online` is only a count; the list itself comes in the roster after synced.
        this.onlineCount = msg.online;
        this.sessionId = msg.session;
        this.nameValue = msg.name;
        return this.setStatus("catching-up");
      case "snapshot":
        return this.snapshotChunk(msg.t, msg.datoms);
      case "txs": {
        // Contiguous within the frame (checked with its shape); here: contiguous with what came before.
        const expected = (this.catchUp ? this.catchUp.txs.at(-1)?.t ?? this.catchUp.t : this.replica.t) + 1;
        const first = msg.txs[0]!.t;
        if (first !== expected) {
          throw new ProtocolViolation(first < expected ? `t went back: a txs frame from t ${first} after t ${expected - 1}` : `a gap: a txs frame from t ${first} after t ${expected - 1}`);
        }
        conn.stream = msg.txs.at(-1)!.t;
        if (this.catchUp) for (const tx of msg.txs) this.catchUp.txs.push(tx);
        else for (const tx of msg.txs) this.applyTx(tx);
        return;
      }
      case "synced": {
        if (conn.synced) throw new ProtocolViolation("a second synced on one connection");
        const reached = this.catchUp ? this.catchUp.txs.at(-1)?.t ?? this.catchUp.t : this.replica.t;
        if (msg.t !== reached) throw new ProtocolViolation(`synced at t ${msg.t}, but the catch-up reached t ${reached}`);
        conn.synced = true;
        return this.synced(gen);
      }
      case "ack":
        return this.acked({ id: msg.id, t: msg.t, tempids: msg.tempids });
      case "rejected":
        return this.rejected(msg.id, msg.code, msg.message);
      case "presence":
        // roster: everyone who shares presence, replacing the list (once per connection); then deltas.
        if (peopleAfter(this.people, msg) > msg.online) {
          throw new ProtocolViolation(`a presence frame that would list more people than the ${msg.online} it says are online`);
        }
        if (msg.roster) this.people.clear();
        for (const p of msg.peers) this.people.set(p.session, { session: p.session, name: p.name, page: p.page, block: p.block });
        for (const p of msg.left) this.people.delete(p.session);
        this.onlineCount = msg.online;
        return this.emit("presence", this.presence, this.onlineCount);
      case "error":
        return this.serverError(msg.code, msg.message, msg.id);
      case "result":
      case "unknown":
        return;
    }
  }

  /**
   * One snapshot comes in chunks of the same t. They, and the txs after them, replace the
   * replica together at synced: a drop mid-catch-up leaves the replica as it was. The server
   * starts over with a newer snapshot when its log moved past the point its stream reached
   * (the log was pruned meanwhile); a snapshot that is not newer than that point, or a chunk
   * of the same snapshot after its txs began, is not a sequence a server sends.
   */
  private snapshotChunk(t: number, datoms: WireDatom[]): void {
    const conn = this.conn;
    if (conn.synced) throw new ProtocolViolation(`a snapshot (t ${t}) after synced`);
    const c = this.catchUp;
    if (c && c.t === t && c.txs.length === 0) {
      c.chunks.push(datoms);
      return;
    }
    if (conn.stream !== null && t <= conn.stream) throw new ProtocolViolation(`a snapshot at t ${t} after the catch-up had reached t ${conn.stream}`);
    this.catchUp = { t, chunks: [datoms], txs: [] };
    conn.stream = t;
  }

  /** At synced after a snapshot: replace the replica, then apply the txs that came after it. */
  private finishSnapshot(): void {
    const catchUp = this.catchUp;
    if (!catchUp) return;
    this.catchUp = null;
    this.replica.reset(catchUp.t, catchUp.chunks.flat());
    this.stats.snapshots++;
    this.emit("snapshot", catchUp.t);
    for (const tx of catchUp.txs) this.applyTx(tx);
    this.resolveApplied();
    this.scheduleSave();
  }

  /** Applies one committed transaction, already checked to be the one after the replica's t. */
  private applyTx(tx: TxEntry): void {
    const catchUp = this.statusValue !== "live";
    const datoms = this.replica.apply(tx.t, tx.datoms);
    if (catchUp) this.stats.catchUpTxs++;
    else this.stats.liveTxs++;
    this.resolveApplied();
    this.scheduleSave();
    this.emit("tx", { t: tx.t, datoms, author: tx.author, time: tx.time, catchUp });
  }

  /** catching-up → live: send what waited, in order. */
  private synced(gen: number): void {
    this.finishSnapshot();
    // A "snapshot" or "tx" listener may have closed the client, or made it reconnect.
    if (this.closedByApp || gen !== this.generation) return;
    // Acked beyond the t the server is synced at: it lost them (a restore from an older
    // backup) or misbehaves. They were durable when acked and the replica may never show
    // them: settle them (as rejectAll does), never leave their promises waiting forever.
    const beyond = this.awaitingApply.filter((a) => a.ack.t > this.replica.t);
    if (beyond.length > 0) {
      this.awaitingApply = this.awaitingApply.filter((a) => a.ack.t <= this.replica.t);
      for (const { ack, resolve } of beyond) resolve?.(ack);
    }
    // The attempt count is not reset here but once a connection has stayed live for
    // STABLE_MS (disconnected): a server that drops every connection right after catch-up
    // was retried every baseMs, forever (found by a hostile review).
    this.liveSince = Date.now();
    this.setStatus("live");
    if (gen !== this.generation) return;
    for (const pending of this.outbox.values()) this.sendTx(pending);
    if (this.myPresence) this.sendPresence();
    this.resolveApplied();
  }

  /**
   * The server broke the protocol: nothing of the frame was applied. Close (1002, or 1009
   * for an oversized frame) and reconnect with since after a backoff that grows with each
   * such connection, so a server that keeps doing it is not hammered.
   */
  private violation(gen: number, err: ProtocolViolation): void {
    if (gen !== this.generation || this.closedByApp) return;
    this.emit("error", new SyncClientError(ClientErrorCode.BAD_SERVER_FRAME, `the server broke the protocol: ${err.message}`, err.closeCode));
    if (this.socket) closeSocket(this.socket, err.closeCode, "protocol error");
    this.disconnected(err.closeCode, "protocol error", null, { action: "retry", violation: true });
  }

  /** welcome names another protocol version: retrying cannot help until one side upgrades. */
  private wrongVersion(protocol: number): void {
    const message = `the server speaks protocol ${protocol} and this client ${PROTOCOL_VERSION}: upgrade the ${protocol > PROTOCOL_VERSION ? "client" : "server"}`;
    if (this.socket) closeSocket(this.socket, CloseCode.PROTOCOL_ERROR, "unsupported protocol");
    this.disconnected(CloseCode.PROTOCOL_ERROR, "", { code: ErrorCode.UNSUPPORTED_PROTOCOL, message }, { action: "fail" });
  }

  private acked(ack: Ack): void {
    const pending = this.outbox.get(ack.id);
    if (!pending) return; // a duplicate ack for a resend, or a reloaded entry already settled
    this.leaveOutbox(pending);
    void this.options.persist?.deleteTx(ack.id).catch((err) => this.persistFailed(err));
    this.awaitingApply.push({ ack, resolve: pending.resolve });
    this.resolveApplied();
  }

  /** Settles acked transactions once the replica holds them. */
  private resolveApplied(): void {
    if (this.awaitingApply.length === 0) return;
    const t = this.replica.t;
    const ready = this.awaitingApply.filter((a) => a.ack.t <= t);
    if (ready.length === 0) return;
    this.awaitingApply = this.awaitingApply.filter((a) => a.ack.t > t);
    for (const { ack, resolve } of ready) resolve?.(ack);
  }

  private rejected(id: string, code: ErrorCode, message: string): void {
    const pending = this.outbox.get(id);
    if (!pending) return;
    // The server is draining: it will close with 1012, and the resend after reconnecting goes through.
    if (code === ErrorCode.SHUTTING_DOWN) {
      pending.sentOn = -1;
      return;
    }
    this.settleRejected(pending, new SyncClientError(code, message));
  }

  private enterOutbox(pending: Pending): void {
    this.outbox.set(pending.id, pending);
    this.outboxBytes += pending.size;
  }

  private leaveOutbox(pending: Pending): void {
    if (this.outbox.delete(pending.id)) this.outboxBytes -= pending.size;
  }

  private settleRejected(pending: Pending, error: SyncClientError): void {
    this.leaveOutbox(pending);
    void this.options.persist?.deleteTx(pending.id).catch((err) => this.persistFailed(err));
    if (pending.reject) pending.reject(error);
    else this.emit("error", error);
  }

  private serverError(code: ErrorCode, message: string, id?: string): void {
    const error = new SyncClientError(code, message);
    if (code === ErrorCode.RATE_LIMITED) {
      // The server dropped a frame, and does not say which: pace down, and resend every
      // unacked transaction after a pause (resends are idempotent by id).
      // One resend for a burst of these: each error arming its own made K errors send
      // every unacked transaction K+1 times (found by a hostile review).
      const gen = this.generation;
      this.tokens = 0;
      if (this.resendArmed) return this.emit("error", error);
      this.resendArmed = true;
      this.after(RATE_LIMITED_RESEND_MS, () => {
        if (gen !== this.generation) return;
        this.resendArmed = false;
        if (this.statusValue !== "live") return;
        for (const pending of this.outbox.values()) this.sendTx(pending);
        if (this.myPresence) this.sendPresence();
      });
    } else if (id !== undefined && this.outbox.has(id)) {
      return this.settleRejected(this.outbox.get(id)!, error);
    }
    this.emit("error", error);
  }

  /** Any close: decide between offline (retry after backoff) and failed (stop). */
  private disconnected(code: number, reason: string, lastError: { code: string; message: string } | null, how: { action?: CloseAction; violation?: boolean } = {}): void {
    let action = how.action ?? closeAction(code);
    // A JWT the server accepted at hello has expired since (the server then fails the
    // connection with bad_jwt, 1008): a callback can mint a fresh one, so reconnect. A JWT
    // refused at hello (no welcome on this connection) still stops the client.
    if (action === "fail" && lastError?.code === ErrorCode.BAD_JWT && this.conn.welcomed && typeof this.options.jwt === "function") action = "retry";
    this.stats.closeCodes.push(code);
    if (this.stats.closeCodes.length > CLOSE_CODES_KEPT) this.stats.closeCodes.shift();
    // Strikes and attempts count since the server last held a connection for STABLE_MS.
    if (this.statusValue === "live" && Date.now() - this.liveSince > STABLE_MS) {
      this.strikes = 0;
      this.attempts = 0;
    }
    if (how.violation) this.strikes++;
    this.socket = null;
    this.generation++;
    this.catchUp = null; // a partial snapshot is never applied
    for (const q of this.sendQueue) if (q.pending) q.pending.queued = false;
    this.sendQueue.length = 0;
    this.resendArmed = false;
    const closedGen = this.generation - 1;
    const inFlight = [...this.outbox.values()].filter((p) => p.sentOn === closedGen);
    for (const pending of this.outbox.values()) pending.sentOn = -1;
    if (this.people.size > 0 || this.onlineCount > 0) {
      this.people.clear();
      this.onlineCount = 0;
      this.emit("presence", this.presence, 0);
    }
    if (this.closedByApp) return;
    if (action === "fail") {
      const serverCode = (lastError?.code ?? ClientErrorCode.POLICY) as ErrorCode;
      const why = lastError?.message ?? (reason || "the server refused the connection");
      return this.fail(new SyncClientError(serverCode, `connection refused with close code ${code} (${serverCode}): ${why}`, code));
    }
    if (action === "drop-largest" && inFlight.length > 0) {
      const largest = inFlight.reduce((a, b) => (b.size > a.size ? b : a));
      this.settleRejected(largest, new SyncClientError(ClientErrorCode.FRAME_TOO_BIG, "the transaction is larger than the server's SYNC_MAX_FRAME_BYTES; split it", code));
    }
    this.attempts = Math.max(this.attempts + 1, action === "retry-later" ? RETRY_LATER_ATTEMPT : 1, this.strikes);
    const delay = backoffDelay(this.attempts, this.backoff, this.options.random);
    // Armed first: an "offline" listener that calls close() then clears it.
    this.after(delay, () => this.open());
    this.setStatus("offline");
  }

  private readonly onBrowserOnline = (): void => {
    if (this.statusValue !== "offline" || this.closedByApp) return;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.open();
  };

  /** failed: nothing will be sent again, so nothing waits. */
  private fail(error: SyncClientError): void {
    this.rejectAll(error);
    this.setStatus("failed", error);
  }

  private rejectAll(error: SyncClientError): void {
    const pending = [...this.outbox.values()];
    this.outbox.clear(); // a persisted queue keeps them for the next connect
    this.outboxBytes = 0;
    for (const p of pending) p.reject?.(error);
    // Acked ones are durable on the server: settle them, though the replica may never show them now.
    for (const { ack, resolve } of this.awaitingApply.splice(0)) resolve?.(ack);
  }

  // --- sending, paced under the server's rate limit ----------------------------------

  private sendTx(pending: Pending): void {
    pending.sentOn = this.generation;
    // Already waiting for a token: it goes out once, not once per resend.
    if (pending.queued) return;
    pending.queued = true;
    this.sendQueue.push({ frame: pending.frame, pending });
    this.pump();
  }

  private sendPresence(): void {
    if (!this.myPresence) return;
    const frame = JSON.stringify({ type: "presence", ...this.myPresence } satisfies ClientMessage);
    // Presence is a state, not a log: an older, still queued update is replaced.
    const queued = this.sendQueue.findIndex((q) => q.frame.startsWith('{"type":"presence"'));
    if (queued >= 0) this.sendQueue[queued] = { frame };
    else this.sendQueue.push({ frame });
    this.pump();
  }

  private enqueue(msg: ClientMessage): void {
    this.sendQueue.push({ frame: JSON.stringify(msg) });
    this.pump();
  }

  /** A token bucket: `rate` frames per second, bursts up to `rate`. */
  private pump(): void {
    if (this.pumpTimer) return;
    const now = Date.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.lastRefill) / 1000) * this.rate);
    this.lastRefill = now;
    const socket = this.socket;
    while (this.sendQueue.length > 0 && this.tokens >= 1 && socket && socket.readyState === OPEN) {
      const next = this.sendQueue.shift()!;
      if (next.pending) next.pending.queued = false;
      socket.send(next.frame);
      this.tokens -= 1;
    }
    if (this.sendQueue.length > 0 && socket && socket.readyState === OPEN) {
      const wait = Math.ceil(((1 - this.tokens) / this.rate) * 1000);
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = null;
        this.pump();
      }, wait);
    }
  }

  // --- persistence and timers ----------------------------------------------------------

  /** Writes the replica at most every 500 ms: the whole db and its t, together. */
  private scheduleSave(): void {
    if (!this.options.persist || this.saveTimer || this.closedByApp) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.flushSave();
    }, 500);
  }

  private flushSave(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    const persist = this.options.persist;
    if (!persist || this.replica.t === 0) return;
    void persist.saveReplica(this.replica.t, this.replica.datoms()).catch((err) => this.persistFailed(err));
  }

  private persistFailed(err: unknown): void {
    this.emit("error", new SyncClientError(ErrorCode.STORAGE_ERROR, `local persistence failed: ${(err as Error)?.message ?? err}`));
  }

  private after(ms: number, fn: () => void): ReturnType<typeof setTimeout> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  private cancel(timer: ReturnType<typeof setTimeout>): void {
    clearTimeout(timer);
    this.timers.delete(timer);
  }
}

/** Opens a client; it connects (and reconnects) on its own. See ConnectOptions. */
export function connect(options: ConnectOptions): SyncClient {
  return new SyncClient(options);
}

function closedError(): SyncClientError {
  return new SyncClientError(ClientErrorCode.CLOSED, "the client was closed");
}

/** How many people the list holds once a presence frame is applied (peers set, then left removed). */
function peopleAfter(people: ReadonlyMap<string, Presence>, msg: { roster?: boolean; peers: Array<{ session: string }>; left: Array<{ session: string }> }): number {
  const has = (session: string) => !msg.roster && people.has(session);
  const added = new Set<string>();
  for (const p of msg.peers) if (!has(p.session)) added.add(p.session);
  let size = (msg.roster ? 0 : people.size) + added.size;
  for (const session of new Set(msg.left.map((p) => p.session))) if (has(session) || added.has(session)) size--;
  return size;
}

/** A transaction's frame, serialized once, and its size in UTF-8 bytes; throws for tx-data JSON cannot hold. */
function transactFrame(id: string, tx: unknown[]): { frame: string; size: number } {
  const frame = JSON.stringify({ type: "transact", id, tx } satisfies ClientMessage);
  return { frame, size: utf8Length(frame) };
}

/** A string's length in UTF-8 bytes, what the socket sends (a lone surrogate goes out as U+FFFD: 3 bytes). */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) bytes += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 2; // a pair: 4 bytes for its 2 units
      i++;
    } else bytes += 2;
  }
  return bytes;
}
