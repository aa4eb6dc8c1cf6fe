import crypto from "node:crypto";
import type { Socket } from "node:net";
import type { Logger } from "pino";
import WebSocket from "ws";
import { ErrorCode, SyncError } from "./errors";
import { ClientMessage, CloseCode, type ServerMessage } from "../../protocol/src";
import { ByteBudget } from "./security/byte-budget";
import { RateLimiter } from "./sync/rate-limiter";

export interface ConnectionLimits {
  readonly messagesPerSecond: number;
  readonly bytesPerMinute: number;
  /** A socket that has not said hello by then is closed (hello_timeout). */
  readonly helloTimeoutMs: number;
}

/** What a connection needs from the server: the handlers behind each message type. */
export interface ConnectionHandlers {
  hello(conn: Connection, msg: Extract<ClientMessage, { type: "hello" }>): void;
  transact(conn: Connection, msg: Extract<ClientMessage, { type: "transact" }>): void;
  presence(conn: Connection, msg: Extract<ClientMessage, { type: "presence" }>): void;
  query(conn: Connection, msg: Extract<ClientMessage, { type: "q" }>): void;
  closed(conn: Connection): void;
  errorSent(code: ErrorCode): void;
  /** The connection is being closed for reading too slowly. */
  overflowed?(conn: Connection): void;
}

/** How long a socket closed for overflow gets to read its backlog and the close frame. */
const OVERFLOW_CLOSE_GRACE_MS = 30_000;
/**
 * How long any other peer gets to answer the server's close frame before its socket is
 * cut (ws itself waits 30 s): a peer that ignores the close frame holds its socket, its
 * per-address slot and its buffers no longer than this.
 */
const CLOSE_GRACE_MS = 5_000;
/** The longest delay setTimeout takes; a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One client socket: parses and checks every frame, enforces hello-first and the rate
 * limit, and hands well-formed messages to the server. Never throws into ws.
 */
export class Connection {
  /** Server-assigned; a client can never choose or spoof it. */
  readonly session = crypto.randomUUID();
  readonly log: Logger;
  /** Set by hello; null until then. */
  name: string | null = null;
  /** True once catch-up is sent: from then on the connection receives broadcasts. */
  live = false;
  /** The payload of the ping awaiting its pong; only that pong proves the client reads. */
  private pingNonce: Buffer | null = null;
  /** Whether writes are held (corked) until the end of this tick. */
  private held = false;
  /** Set once the send buffer overflowed: nothing more is queued for this socket. */
  private overflowed = false;
  private readonly limiter: RateLimiter;
  private readonly budget: ByteBudget;
  /** Refusing a whole second's worth of messages in a row means the client ignores rate_limited. */
  private readonly maxStrikes: number;
  private readonly helloTimer: NodeJS.Timeout;
  /** Set by closeAt (a JWT's expiry). */
  private expiryTimer?: NodeJS.Timeout;

  constructor(
    readonly ws: WebSocket,
    private readonly handlers: ConnectionHandlers,
    limits: ConnectionLimits,
    logger: Logger,
    /** SYNC_MAX_BUFFERED_BYTES: the most unsent data this socket may hold. */
    readonly maxBufferedBytes: number = Infinity,
  ) {
    this.log = logger.child({ session: this.session });
    this.limiter = new RateLimiter(limits.messagesPerSecond);
    this.budget = new ByteBudget(limits.bytesPerMinute);
    this.maxStrikes = limits.messagesPerSecond;
    // An idle socket must not hold a slot, memory and an fd forever.
    this.helloTimer = setTimeout(() => {
      if (this.name === null) this.fail(ErrorCode.HELLO_TIMEOUT, `no hello within ${limits.helloTimeoutMs} ms (SYNC_HELLO_TIMEOUT)`, CloseCode.POLICY_VIOLATION);
    }, limits.helloTimeoutMs);
    this.helloTimer.unref();
    ws.on("message", (data, isBinary) => this.receive(data, isBinary));
    // An unsolicited pong (or one echoing an older ping) proves nothing: a client that
    // stopped reading can still write pongs. Only the answer to the current ping counts.
    ws.on("pong", (data) => {
      if (this.pingNonce !== null && data.equals(this.pingNonce)) this.pingNonce = null;
    });
    ws.on("error", (err) => this.log.warn({ err: err.message }, "socket error"));
    ws.on("close", (code) => {
      clearTimeout(this.helloTimer);
      clearTimeout(this.expiryTimer);
      this.log.debug({ code }, "closed");
      this.handlers.closed(this);
    });
  }

  send(msg: ServerMessage): void {
    this.sendText(JSON.stringify(msg));
  }

  /**
   * Queues one text frame. For broadcasts, pass a Buffer encoded once for every receiver.
   * Returns false when the socket is gone or was just closed for reading too slowly.
   * `written` is called once the frame is handed to the kernel.
   */
  sendText(data: string | Buffer, written?: () => void): boolean {
    if (this.ws.readyState !== WebSocket.OPEN || this.overflowed) return false;
    if (!this.room(typeof data === "string" ? Buffer.byteLength(data) : data.length)) return false;
    this.ws.send(data, { binary: false }, written);
    return true;
  }

  /**
   * Holds this socket's writes until the current tick ends: a commit group's acks to a
   * writer and the group's `txs` frame then leave in one write, not one syscall per ack
   * (the acks were a tenth of the writer's CPU at 100 × 16).
   */
  holdWritesForTick(): void {
    if (this.held) return;
    const socket = this.socket();
    if (!socket || this.ws.readyState !== WebSocket.OPEN) return;
    this.held = true;
    socket.cork();
    process.nextTick(() => this.releaseHeldWrites());
  }

  /** Whether holdWritesForTick's hold is on: this socket has acks waiting for the tick's end. */
  get holdingWrites(): boolean {
    return this.held;
  }

  /**
   * Ends the hold now: what it queued leaves in one write. The fan-out calls this right
   * after adding its `txs` frame, so a writer's acks do not wait for every other client's
   * write of the same flush (at 1,000 clients, ~20 ms of them).
   */
  releaseHeldWrites(): void {
    if (!this.held) return;
    this.held = false;
    this.socket()?.uncork();
  }

  private socket(): Pick<Socket, "cork" | "uncork" | "write"> | undefined {
    return (this.ws as unknown as { _socket?: Socket })._socket;
  }

  /**
   * Writes frames built once for every receiver (sync/ws-frames.ts) straight to the
   * socket: one write, no framing per client. This keeps the order of ws's own sends
   * because ws writes them synchronously while its sender's queue is empty, and the queue
   * only fills while compressing (the server turns permessage-deflate off, and a test
   * holds it to that) or reading a Blob (never sent here). ws is pinned to one version.
   */
  sendFrames(wire: Buffer): boolean {
    if (this.ws.readyState !== WebSocket.OPEN || this.overflowed) return false;
    if (!this.room(wire.length)) return false;
    const socket = this.socket();
    if (!socket) return false;
    socket.write(wire);
    return true;
  }

  /** Unsent bytes queued for this client. */
  get buffered(): number {
    return this.ws.bufferedAmount;
  }

  /**
   * Whether `bytes` more may be queued. A frame always fits into an empty buffer (so one
   * large reply still goes out), but past the cap the client is closed with 1013: it
   * resumes with `since` instead of the server holding an unbounded backlog for it.
   */
  private room(bytes: number): boolean {
    const queued = this.ws.bufferedAmount;
    if (queued === 0 || queued + bytes <= this.maxBufferedBytes) return true;
    this.overflowed = true;
    this.log.info({ queued, bytes, max: this.maxBufferedBytes }, "send buffer full; closing");
    this.handlers.overflowed?.(this);
    // The close frame waits behind the backlog; a client that never reads it is cut off.
    this.close(CloseCode.TRY_AGAIN_LATER, "slow reader: send buffer over SYNC_MAX_BUFFERED_BYTES; reconnect with since", OVERFLOW_CLOSE_GRACE_MS);
    return false;
  }

  /**
   * One heartbeat round. Returns false (and terminates the socket) when the previous
   * ping was not answered; otherwise sends a fresh ping with a random payload.
   */
  heartbeat(): boolean {
    if (this.pingNonce !== null) {
      this.log.info("heartbeat missed; terminating");
      this.ws.terminate();
      return false;
    }
    if (this.ws.readyState !== WebSocket.OPEN) return true;
    this.pingNonce = crypto.randomBytes(8);
    this.ws.ping(this.pingNonce);
    return true;
  }

  error(code: ErrorCode, message: string, id?: string): void {
    this.handlers.errorSent(code);
    this.send(id === undefined ? { type: "error", code, message } : { type: "error", code, message, id });
  }

  /**
   * Fails the connection (an error frame, then close 1008) at atMs (ms since the epoch),
   * e.g. when its JWT expires. Timers cannot wait more than 2^31-1 ms: a later moment is
   * reached in steps.
   */
  closeAt(atMs: number, code: ErrorCode, message: string): void {
    clearTimeout(this.expiryTimer);
    const left = atMs - Date.now();
    if (left <= 0) return this.fail(code, message, CloseCode.POLICY_VIOLATION);
    this.expiryTimer = setTimeout(() => this.closeAt(atMs, code, message), Math.min(left, MAX_TIMER_MS));
    this.expiryTimer.unref();
  }

  /** Sends a final error frame, then closes with code. */
  fail(code: ErrorCode, message: string, closeCode: number): void {
    this.error(code, message);
    this.close(closeCode, code);
  }

  /** Sends the close frame; the socket is cut if the peer has not answered it within graceMs. */
  close(code: number, reason: string, graceMs = CLOSE_GRACE_MS): void {
    if (this.ws.readyState !== WebSocket.OPEN && this.ws.readyState !== WebSocket.CONNECTING) return;
    this.ws.close(code, reason);
    setTimeout(() => this.ws.terminate(), graceMs).unref();
  }

  /**
   * Before hello a peer has proven only that it holds the shared token: anything but a
   * well-formed hello closes the socket (1008) instead of earning an error frame and a
   * second try.
   */
  private refuse(code: ErrorCode, message: string, id?: string): void {
    if (this.name === null) return this.fail(code, message, CloseCode.POLICY_VIOLATION);
    this.error(code, message, id);
  }

  private receive(data: WebSocket.RawData, isBinary: boolean): void {
    // Once the server has sent its close frame, nothing more is read. ws still emits what a
    // peer that ignores the close frame goes on sending: it could say hello (taking a
    // connection slot), and transact (committed, never acked) after being closed for
    // flooding, until ws's own 30 s close timeout.
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.budget.take(rawLength(data))) {
      return this.fail(ErrorCode.BYTE_BUDGET, "over this connection's byte budget (SYNC_BYTES_PER_MINUTE); reconnect later", CloseCode.POLICY_VIOLATION);
    }
    if (!this.limiter.take()) {
      if (this.name === null) return this.fail(ErrorCode.RATE_LIMITED, "too many messages before hello", CloseCode.POLICY_VIOLATION);
      if (this.limiter.strikes === 1) this.error(ErrorCode.RATE_LIMITED, "too many messages; slow down (SYNC_RATE_LIMIT)");
      if (this.limiter.strikes > this.maxStrikes) this.close(CloseCode.POLICY_VIOLATION, ErrorCode.RATE_LIMITED);
      return;
    }
    if (isBinary) return this.refuse(ErrorCode.BAD_FRAME, "binary frames are not supported; send JSON text");
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return this.refuse(ErrorCode.BAD_JSON, "frame is not valid JSON");
    }
    const parsed = ClientMessage.safeParse(json);
    if (!parsed.success) {
      const id = (json as { id?: unknown } | null)?.id;
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
      // Clipped: zod quotes the client's own keys back, and those may be long.
      return this.refuse(ErrorCode.BAD_MESSAGE, `${where}${issue?.message ?? "invalid message"}`.slice(0, 200), typeof id === "string" && id.length <= 128 ? id : undefined);
    }
    const msg = parsed.data;
    try {
      if (msg.type === "hello") {
        if (this.name !== null) return this.error(ErrorCode.ALREADY_HELLO, "hello was already received on this connection");
        return this.handlers.hello(this, msg);
      }
      if (this.name === null) return this.fail(ErrorCode.HELLO_REQUIRED, "the first message must be hello", CloseCode.POLICY_VIOLATION);
      switch (msg.type) {
        case "transact":
          return this.handlers.transact(this, msg);
        case "presence":
          return this.handlers.presence(this, msg);
        case "q":
          return this.handlers.query(this, msg);
        default: {
          const never: never = msg;
          return never;
        }
      }
    } catch (err) {
      if (err instanceof SyncError) return this.error(err.code, err.message, "id" in msg ? msg.id : undefined);
      this.log.error({ err }, "handler failed");
      this.error(ErrorCode.INTERNAL, "internal error", "id" in msg ? msg.id : undefined);
    }
  }
}

function rawLength(data: WebSocket.RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}
