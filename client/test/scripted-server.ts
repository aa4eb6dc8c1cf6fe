/**
 * A WebSocket server on loopback that sends exactly the frames and close codes a test
 * names, including ones the real server cannot be made to send on demand (or never would).
 */
import { WebSocketServer, type WebSocket } from "ws";

export type Script = (ws: WebSocket, attempt: number, hello: Record<string, unknown>) => void;

export class ScriptedServer {
  readonly wss: WebSocketServer;
  connections = 0;
  readonly frames: Array<Record<string, unknown>> = [];
  /** When each connection opened (ms since the epoch). */
  readonly openedAt: number[] = [];
  /** The close code each connection ended with, as this server saw it, by attempt (1-based). */
  readonly closeCodes = new Map<number, number>();
  constructor(private script: Script) {
    this.wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    this.wss.on("connection", (ws) => {
      const attempt = ++this.connections;
      this.openedAt.push(Date.now());
      ws.on("close", (code) => this.closeCodes.set(attempt, code));
      ws.on("error", () => undefined); // a client that gives up on a frame may end the TCP stream abruptly
      ws.on("message", (data) => {
        const msg = JSON.parse(data.toString()) as Record<string, unknown>;
        this.frames.push(msg);
        if (msg.type === "hello") this.script(ws, attempt, msg);
      });
    });
  }
  listening(): Promise<this> {
    return new Promise((r) => (this.wss.address() ? r(this) : this.wss.once("listening", () => r(this))));
  }
  get url(): string {
    const { port } = this.wss.address() as { port: number };
    return `ws://127.0.0.1:${port}/ws`;
  }
  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

export const started = (script: Script) => new ScriptedServer(script).listening();

/**
 * A `txs` frame in protocol 5's compact form (protocol/src/txs-frame.ts) built from
 * transactions as the client reports them. Nothing is checked, so a test can send bad
 * entities, attributes and values; only t must run on (the compact form cannot say
 * otherwise). Bad structure is written out by hand.
 */
export function txsFrame(...txs: Array<{ t: number; datoms: unknown[][]; author: string; time: number }>): Record<string, unknown> {
  const authors: string[] = [];
  const attrs: unknown[] = [];
  const flat: unknown[] = [];
  txs.forEach((tx, i) => {
    if (tx.t !== txs[0]!.t + i) throw new Error(`txsFrame: t ${tx.t} does not follow ${txs[0]!.t + i - 1}; write such a frame by hand`);
    if (!authors.includes(tx.author)) authors.push(tx.author);
    flat.push(authors.indexOf(tx.author), tx.time - txs[0]!.time, tx.datoms.length);
    for (const [e, a, v, retracted] of tx.datoms) {
      if (!attrs.includes(a)) attrs.push(a);
      flat.push(retracted === false ? -(e as number) : e, attrs.indexOf(a), v);
    }
  });
  return { type: "txs", t: txs[0]!.t, time: txs[0]!.time, authors, attrs, txs: flat };
}
