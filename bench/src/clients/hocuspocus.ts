/**
 * A client of Hocuspocus 4 speaking its wire format with raw `yjs` + `y-protocols`, as
 * @hocuspocus/provider does (read from node_modules/@hocuspocus/server/src: ClientConnection.ts,
 * MessageReceiver.ts, OutgoingMessage.ts). Every message is
 * `varString(documentName) varUint(MessageType) ...`. Connecting: Auth(Token, "") then
 * SyncStep1; the server answers Authenticated, its own SyncStep1 (we answer with our
 * SyncStep2) and SyncStep2 with the document, after which the client is in sync.
 *
 * A writer appends each edit's payload at the end of its own text (a user typing in their
 * own paragraph), so every update is one small insert: the update a Y.Doc holding only the
 * writer's own Y.Text emits for `text.insert(text.length, payload)`, byte for byte
 * (appendUpdate; test/hocuspocus-client.test.ts compares it with a real Y.Doc's). The writer
 * encodes it itself rather than keeping that Y.Doc: Yjs merges each insert into the previous
 * one (ContentString.mergeWith, `str += right.str`) and then encodes the transaction's
 * update by slicing the merged string (ContentString.write, `str.slice(offset)`), which
 * makes V8 flatten the whole run: a cost that grows with everything the writer has typed,
 * paid on the cores the server under test shares. The server pays the same cost in its own
 * Y.Doc for every update it applies (yjs cleanupTransactions merges the new item into the
 * writer's run before it encodes the `update` event Hocuspocus broadcasts): that part is
 * Hocuspocus's own and stays.
 *
 * The ack is the server's SyncStatus(updateSaved=1) reply, which it sends after
 * applying the update in memory (MessageReceiver.readSyncMessage, messageYjsUpdate): the
 * provider counts its unsynced changes down on exactly this message. Nothing is on disk
 * then: with the SQLite extension the whole document is stored later, debounced.
 */
import WebSocket from "ws";
import * as Y from "yjs";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as syncProtocol from "y-protocols/sync";
import { parseEdit } from "../edits.ts";
import { nowMs } from "../clock.ts";
import { type BenchClient, type ClientOptions, closeSocket } from "./client.ts";

/** Yjs's ContentString ref, and the info bit of an Item with a left origin (yjs Item.write). */
const CONTENT_STRING = 4;
const HAS_ORIGIN = 0b1000_0000;

/**
 * The Yjs update (encoding V1) a Y.Doc whose only content is writer `client`'s own text
 * `textName`, `clock` characters long, emits when `text` is inserted at its end: one Item
 * of ContentString whose left origin is the writer's previous character (none at clock 0:
 * then its parent, the root type, is named instead), and an empty delete set. Clocks count
 * UTF-16 code units, as Yjs's string lengths do.
 */
export function appendUpdate(client: number, clock: number, textName: string, text: string): Uint8Array {
  const e = encoding.createEncoder();
  encoding.writeVarUint(e, 1); // clients with structs
  encoding.writeVarUint(e, 1); // structs of this client
  encoding.writeVarUint(e, client);
  encoding.writeVarUint(e, clock);
  if (clock > 0) {
    encoding.writeUint8(e, CONTENT_STRING | HAS_ORIGIN);
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, clock - 1);
  } else {
    encoding.writeUint8(e, CONTENT_STRING);
    encoding.writeVarUint(e, 1); // parent is a root type, named by its key
    encoding.writeVarString(e, textName);
  }
  encoding.writeVarString(e, text);
  encoding.writeVarUint(e, 0); // delete set: no clients
  return encoding.toUint8Array(e);
}

/** Hocuspocus MessageType (server/src/types.ts) and AuthMessageType (common/src/auth.ts). */
const MessageType = { Sync: 0, Awareness: 1, Auth: 2, QueryAwareness: 3, SyncReply: 4, Stateless: 5, CLOSE: 7, SyncStatus: 8 } as const;
const AuthMessageType = { Token: 0, PermissionDenied: 1, Authenticated: 2 } as const;

export const DOCUMENT = "bench";
export const TEXT = "t";

/** The SyncStep2 a client with no state answers the server's SyncStep1 with. */
const EMPTY_UPDATE = Y.encodeStateAsUpdate(new Y.Doc());

export class HocuspocusClient implements BenchClient {
  readonly index: number;
  readonly tracker: ClientOptions["tracker"];
  onAck: (sentAt: number) => void = () => {};
  private readonly options: ClientOptions;
  private ws?: WebSocket;
  /** Writers: the Yjs client id (fixed, so every receiver knows whose stream a struct belongs to) and next clock. */
  private clientId = 0;
  private clock = 0;
  /** Send times of edits not yet acked, oldest first: the server answers one connection's messages in order. */
  private readonly inFlight: number[] = [];
  private inFlightHead = 0;
  /** SyncStatus replies owed for our handshake SyncStep2, which come before any edit's. */
  private handshakeStatuses = 0;
  /** Per writer client id: the next Yjs clock due and the tail of a payload split across structs. */
  private readonly streams = new Map<number, { clock: number; partial: string }>();
  private synced?: () => void;
  private closing = false;

  constructor(options: ClientOptions) {
    this.options = options;
    this.index = options.index;
    this.tracker = options.tracker;
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.options.url, { perMessageDeflate: false });
      ws.binaryType = "nodebuffer";
      this.ws = ws;
      this.synced = resolve;
      ws.once("open", () => {
        ws.send(this.message(MessageType.Auth, (e) => {
          encoding.writeVarUint(e, AuthMessageType.Token);
          encoding.writeVarString(e, "");
        }));
        ws.send(this.message(MessageType.Sync, (e) => syncProtocol.writeSyncStep1(e, new Y.Doc())));
      });
      // Every error, not only the first: ws throws an error nobody listens to.
      ws.on("error", (err) => {
        reject(err);
        if (!this.closing) this.options.sink.fail(`client ${this.index}: socket error: ${err.message}`);
      });
      ws.on("message", (data: Buffer) => this.receive(data));
      ws.on("close", (code, reason) => {
        const why = `client ${this.index}: socket closed (${code} ${reason.toString()})`;
        reject(new Error(why));
        if (!this.closing) this.options.sink.fail(why);
      });
    });
  }

  async prepareWriter(): Promise<void> {
    this.clientId = this.index + 1;
    this.clock = 0;
  }

  sendEdit(payload: string, sentAt: number): void {
    const update = appendUpdate(this.clientId, this.clock, TEXT, payload);
    this.clock += payload.length;
    this.inFlight.push(sentAt);
    this.ws!.send(this.message(MessageType.Sync, (e) => syncProtocol.writeUpdate(e, update)));
  }

  close(): Promise<void> {
    this.closing = true;
    return closeSocket(this.ws);
  }

  private message(type: number, body: (encoder: encoding.Encoder) => void): Uint8Array {
    const e = encoding.createEncoder();
    encoding.writeVarString(e, DOCUMENT);
    encoding.writeVarUint(e, type);
    body(e);
    return encoding.toUint8Array(e);
  }

  private receive(data: Buffer): void {
    if (this.closing) return;
    const at = nowMs();
    const d = decoding.createDecoder(data);
    decoding.readVarString(d);
    const type = decoding.readVarUint(d);
    switch (type) {
      case MessageType.Sync:
      case MessageType.SyncReply: {
        const sub = decoding.readVarUint(d);
        if (sub === syncProtocol.messageYjsSyncStep1) {
          this.handshakeStatuses++;
          this.ws!.send(this.message(MessageType.Sync, (e) => {
            encoding.writeVarUint(e, syncProtocol.messageYjsSyncStep2);
            encoding.writeVarUint8Array(e, EMPTY_UPDATE);
          }));
        } else if (sub === syncProtocol.messageYjsSyncStep2) {
          // The document as it was when we joined: before any edit of the run.
          this.synced?.();
          this.synced = undefined;
        } else if (sub === syncProtocol.messageYjsUpdate) {
          this.receiveUpdate(decoding.readVarUint8Array(d), at);
        }
        return;
      }
      case MessageType.SyncStatus: {
        if (decoding.readVarUint(d) !== 1) return this.options.sink.fail(`client ${this.index}: the server refused an update`);
        if (this.handshakeStatuses > 0) {
          this.handshakeStatuses--;
          return;
        }
        if (this.inFlightHead >= this.inFlight.length) return this.options.sink.fail(`client ${this.index}: SyncStatus with nothing in flight`);
        const sentAt = this.inFlight[this.inFlightHead++]!;
        if (this.inFlightHead > 1024) {
          this.inFlight.splice(0, this.inFlightHead);
          this.inFlightHead = 0;
        }
        this.onAck(sentAt);
        return;
      }
      case MessageType.Auth: {
        const auth = decoding.readVarUint(d);
        if (auth === AuthMessageType.PermissionDenied) this.options.sink.fail(`client ${this.index}: permission denied`);
        return;
      }
      case MessageType.Awareness:
        return;
      case MessageType.CLOSE:
        return this.options.sink.fail(`client ${this.index}: server closed the document: ${decoding.readVarString(d)}`);
      default:
        return this.options.sink.fail(`client ${this.index}: unexpected Hocuspocus message type ${type}`);
    }
  }

  /**
   * Reads the edits out of an update (one insert, or several merged by the server's
   * per-turn flush). Each writer's structs must continue its Yjs clock exactly, and their
   * text, joined, is that writer's payloads in order.
   */
  private receiveUpdate(update: Uint8Array, at: number): void {
    const { structs, ds } = Y.decodeUpdate(update);
    if (ds.clients.size > 0) this.options.sink.fail(`client ${this.index}: unexpected deletion in an update`);
    for (const struct of structs) {
      if (!(struct instanceof Y.Item) || !(struct.content instanceof Y.ContentString)) {
        this.options.sink.fail(`client ${this.index}: unexpected struct ${struct.constructor.name}`);
        continue;
      }
      const client = struct.id.client;
      const stream = this.streams.get(client) ?? { clock: 0, partial: "" };
      this.streams.set(client, stream);
      if (struct.id.clock !== stream.clock) {
        this.options.sink.fail(`client ${this.index}: writer ${client - 1} clock ${struct.id.clock} arrived when ${stream.clock} was due`);
        continue;
      }
      stream.clock += struct.length;
      let text = stream.partial + struct.content.str;
      let end: number;
      while ((end = text.indexOf(";")) >= 0) {
        const edit = parseEdit(text.slice(0, end + 1));
        text = text.slice(end + 1);
        if (!edit) {
          this.options.sink.fail(`client ${this.index}: unreadable payload from writer ${client - 1}`);
          continue;
        }
        if (!this.tracker.accept(edit)) {
          this.options.sink.fail(this.tracker.errors.at(-1)!);
          continue;
        }
        if (edit.writer !== this.index) this.options.sink.fanout.record(at - edit.sentAt);
      }
      stream.partial = text;
    }
  }
}
