/**
 * A client of our server speaking protocol/PROTOCOL.md (version 1's `tx` frames, the
 * batched `txs` frames of 2 and later, version 4's short datoms and version 5's compact
 * `txs` frames; the version it says in hello is the built server's own) with plain
 * `ws`: hello, wait for
 * `synced`; a writer first creates its own block, then each edit is a transact that sets
 * that block's block/string (one datom change: the server stores the retraction of the
 * old value and the new value). The ack is the server's `ack` frame, which it sends only
 * after the group commit's fsync: a durable ack.
 */
import WebSocket from "ws";
import { type Edit, parseEdit } from "../edits.ts";
import { nowMs } from "../clock.ts";
import { type BenchClient, type ClientOptions, closeSocket } from "./client.ts";

/** Frames the harness has no use for are recognised by their first bytes and never parsed. */
const PREFIX = Buffer.from('{"type":"');
const IGNORED = new Set(["online", "offline", "presence", "welcome", "snapshot"]);

type Datom = [number, string, unknown, number?, boolean?] | [number, string, unknown, false];

export class OursClient implements BenchClient {
  readonly index: number;
  readonly tracker: ClientOptions["tracker"];
  onAck: (sentAt: number) => void = () => {};
  private readonly options: ClientOptions;
  private readonly protocol: number;
  private ws?: WebSocket;
  private readonly sentAt = new Map<string, number>();
  private readonly uid: string;
  private seq = 0;
  private synced?: () => void;
  private setupAcked?: () => void;
  private closing = false;

  constructor(options: ClientOptions, protocol: number) {
    this.options = options;
    this.index = options.index;
    this.tracker = options.tracker;
    this.protocol = protocol;
    this.uid = `bench-${options.index}`;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.options.url, { perMessageDeflate: false });
      this.ws = ws;
      this.synced = resolve;
      ws.once("open", () => ws.send(JSON.stringify({ type: "hello", protocol: this.protocol, name: `bench${this.index}` })));
      // Every error, not only the first: ws throws an error nobody listens to.
      ws.on("error", (err) => {
        reject(err);
        if (!this.closing) this.options.sink.fail(`client ${this.index}: socket error: ${err.message}`);
      });
      ws.on("message", (data: Buffer, isBinary) => this.receive(data, isBinary));
      ws.on("close", (code, reason) => {
        const why = `client ${this.index}: socket closed (${code} ${reason.toString()})`;
        reject(new Error(why));
        if (!this.closing) this.options.sink.fail(why);
      });
    });
  }

  prepareWriter(): Promise<void> {
    return new Promise((resolve) => {
      this.setupAcked = resolve;
      this.ws!.send(JSON.stringify({ type: "transact", id: `setup-${this.index}`, tx: [{ "block/uid": this.uid, "block/string": "", "block/order": this.index }] }));
    });
  }

  sendEdit(payload: string, sentAt: number): void {
    const id = `${this.index}.${this.seq++}`;
    this.sentAt.set(id, sentAt);
    this.ws!.send(JSON.stringify({ type: "transact", id, tx: [[":db/add", ["block/uid", this.uid], "block/string", payload]] }));
  }

  close(): Promise<void> {
    this.closing = true;
    return closeSocket(this.ws);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (this.closing) return;
    if (isBinary) return this.options.sink.fail(`client ${this.index}: unexpected binary frame`);
    const type = frameType(data);
    if (type !== null && IGNORED.has(type)) return;
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(data.toString()) as Record<string, unknown>;
    } catch {
      return this.options.sink.fail(`client ${this.index}: frame is not JSON`);
    }
    switch (msg.type) {
      case "tx": // protocol 1: one transaction per frame
        return this.receiveTx(msg);
      case "txs": // protocol 2: everything committed in one group, in one frame
        if (this.protocol >= 5) return this.receiveCompact(msg);
        for (const tx of msg.txs as Array<Record<string, unknown>>) this.receiveTx(tx);
        return;
      case "ack":
        return this.receiveAck(msg.id as string);
      case "synced":
        this.synced?.();
        this.synced = undefined;
        return;
      case "rejected":
      case "error":
        return this.options.sink.fail(`client ${this.index}: ${String(msg.type)} ${String(msg.code)}: ${String(msg.message)}`);
      default:
        if (typeof msg.type === "string" && IGNORED.has(msg.type)) return;
        return this.options.sink.fail(`client ${this.index}: unknown frame type ${JSON.stringify(msg.type)}; teach bench/src/clients/ours.ts`);
    }
  }

  private receiveTx(tx: Record<string, unknown>): void {
    const at = nowMs();
    const datoms = tx.datoms as Datom[] | undefined;
    if (!Array.isArray(datoms)) return this.options.sink.fail(`client ${this.index}: tx frame without datoms`);
    for (const datom of datoms) {
      // Protocols 1-3: [e, a, v, tx, added]; 4: [e, a, v] asserted, [e, a, v, false] retracted.
      const asserted = datom.length === 5 ? datom[4] === true : datom.length === 3;
      if (datom[1] !== "block/string" || !asserted || typeof datom[2] !== "string") continue;
      const edit = parseEdit(datom[2]);
      if (edit) this.record(edit, at);
    }
  }

  /**
   * Protocol 5's compact `txs` frame (protocol/src/txs-frame.ts): one flat list, per
   * transaction `author, dt, n` and then n datoms `e, attr, value` (e < 0 retracted),
   * read in place as a client that cares about its CPU would.
   */
  private receiveCompact(msg: Record<string, unknown>): void {
    const at = nowMs();
    const flat = msg.txs as unknown[];
    const blockString = (msg.attrs as string[]).indexOf("block/string");
    for (let i = 0; i < flat.length; ) {
      const n = flat[i + 2] as number;
      i += 3;
      for (const end = i + 3 * n; i < end; i += 3) {
        const value = flat[i + 2];
        if (flat[i + 1] !== blockString || (flat[i] as number) < 0 || typeof value !== "string") continue;
        const edit = parseEdit(value);
        if (edit) this.record(edit, at);
      }
    }
  }

  private record(edit: Edit, at: number): void {
    if (!this.tracker.accept(edit)) return this.options.sink.fail(this.tracker.errors.at(-1)!);
    if (edit.writer !== this.index) this.options.sink.fanout.record(at - edit.sentAt);
  }

  private receiveAck(id: string): void {
    if (id === `setup-${this.index}`) {
      this.setupAcked?.();
      return;
    }
    const sentAt = this.sentAt.get(id);
    if (sentAt === undefined) return this.options.sink.fail(`client ${this.index}: ack for unknown id ${id}`);
    this.sentAt.delete(id);
    this.onAck(sentAt);
  }
}

/** The `type` of a frame the server wrote as JSON.stringify({ type, ... }), or null. */
function frameType(data: Buffer): string | null {
  if (data.length < PREFIX.length + 2 || data.compare(PREFIX, 0, PREFIX.length, 0, PREFIX.length) !== 0) return null;
  const end = data.indexOf(0x22, PREFIX.length);
  return end < 0 ? null : data.toString("latin1", PREFIX.length, end);
}
