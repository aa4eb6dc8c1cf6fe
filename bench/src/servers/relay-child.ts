/**
 * The relay: the ceiling of this benchmark on this machine. It speaks just enough of our
 * protocol (version 5's frames, protocol/PROTOCOL.md) for the harness's client
 * (clients/ours.ts) and does no work at all: no log, no fsync, no validation, no
 * datascript. A `transact` is acked at once, and its value is relayed to every client.
 *
 * Its fan-out is paced like ours (server/src/sync/fanout-pacer.ts, FANOUT_MS_PER_CLIENT
 * and FANOUT_MAX_MS in server/src/server.ts): what arrived within one window goes to each
 * client as one prebuilt frame, and the first edit after a quiet spell goes at once.
 * `--ms-per-client 0` relays each event-loop turn's edits in that turn, like Hocuspocus.
 *
 * What it measures: the rate the clients and the kernel allow when the server costs
 * nothing; no server, durable or not, can relay more edits per second on the same
 * machine. Its latencies are not a floor: in this closed loop a faster server keeps the
 * clients busier, and the clients' queues are part of every fan-out latency.
 */
import http from "node:http";
import type { Socket } from "node:net";
import { parseArgs } from "node:util";
import { WebSocketServer, type WebSocket } from "ws";

const { values } = parseArgs({
  options: {
    port: { type: "string" },
    "ms-per-client": { type: "string", default: "0.1" },
    "max-ms": { type: "string", default: "50" },
  },
});
const port = Number(values.port);
const msPerClient = Number(values["ms-per-client"]);
const maxMs = Number(values["max-ms"]);
if (!Number.isInteger(port) || port <= 0) throw new Error("--port is required");
if (!(msPerClient >= 0) || !(maxMs >= 0)) throw new Error("--ms-per-client and --max-ms are milliseconds, 0 or more");

/** Clients that said hello, with the socket ws writes to. */
const live = new Map<WebSocket, Socket>();
let t = 1_000;
/** Edits since the last flush, as protocol 5's flat `txs` list; its first t. */
let pending: unknown[] = [];
let pendingFirstT = 0;
let authors = new Map<string, number>();
let timer: NodeJS.Timeout | undefined;
let immediate = false;
let lastFlushAt = -Infinity;

/** An unmasked text frame (RFC 6455 §5.2): the same bytes for every client. */
function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = Buffer.alloc(n < 126 ? 2 : n < 0x10000 ? 4 : 10);
  head[0] = 0x81;
  if (n < 126) head[1] = n;
  else if (n < 0x10000) {
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

function flush(): void {
  timer = undefined;
  immediate = false;
  if (pending.length === 0) return;
  lastFlushAt = performance.now();
  const json = `{"type":"txs","t":${pendingFirstT},"time":${Date.now()},"authors":${JSON.stringify([...authors.keys()])},"attrs":["block/string"],"txs":${JSON.stringify(pending)}}`;
  const wire = textFrame(Buffer.from(json));
  pending = [];
  authors = new Map();
  for (const socket of live.values()) socket.write(wire);
}

function schedule(): void {
  if (timer || immediate) return;
  const wait = lastFlushAt + Math.min(maxMs, live.size * msPerClient) - performance.now();
  if (wait > 0) timer = setTimeout(flush, wait);
  else {
    // At the end of this turn: every frame already read joins the flush.
    immediate = true;
    setImmediate(flush);
  }
}

/** One transaction of the flat list: `author, dt, n`, then `e, attr, value` per datom (PROTOCOL.md). */
function relay(author: string, value: unknown): void {
  t++;
  if (pending.length === 0) pendingFirstT = t;
  let a = authors.get(author);
  if (a === undefined) authors.set(author, (a = authors.size));
  if (typeof value === "string") pending.push(a, 0, 1, 1 + (t % 1_000), 0, value);
  else pending.push(a, 0, 0);
  schedule();
}

const server = http.createServer((_req, res) => res.writeHead(200).end("relay\n"));
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 1 << 20 });
wss.on("connection", (ws: WebSocket & { _socket?: Socket }) => {
  let name = "";
  ws.on("message", (data: Buffer) => {
    const msg = JSON.parse(data.toString()) as { type?: string; name?: string; id?: string; tx?: unknown[] };
    if (msg.type === "hello") {
      name = String(msg.name);
      live.set(ws, ws._socket!);
      ws.send(JSON.stringify({ type: "welcome", protocol: 5, session: name, name, t, online: live.size }));
      ws.send(JSON.stringify({ type: "synced", t }));
    } else if (msg.type === "transact") {
      // The harness's edit is [[":db/add", ref, "block/string", text]]; its setup is a map.
      const op = msg.tx?.[0];
      relay(name, Array.isArray(op) ? op[3] : null);
      ws.send(JSON.stringify({ type: "ack", id: msg.id, t, tempids: {} }));
    }
  });
  ws.on("close", () => live.delete(ws));
});
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
