/**
 * A client of Hocuspocus 4 speaking its wire format with raw `yjs` + `y-protocols`, as
 * @hocuspocus/provider does (read from node_modules/@hocuspocus/server/src: ClientConnection.ts,
 * MessageReceiver.ts, OutgoingMessage.ts). Every message is
 * `varString(documentName) varUint(MessageType) ...`. Connecting: Auth(Token, "") then
 * SyncStep1; the server answers Authenticated, its own SyncStep1 (we answer with our
 * SyncStep2) and SyncStep2 with the document, after which the client is in sync.
 *
 * A writer's edit replaces its own text (`replace`, the default of `--hocuspocus-edit`,
 * which reaches the client processes in the `connect` command): one transaction that
 * deletes the writer's previous payload and inserts the new one, as a user editing their
 * own block does, and as our server's writer replaces its block's string. The document
 * stays one live payload per writer: the deleted items are garbage-collected and merge
 * into one ContentDeleted run (the server's Y.Doc has gc on), and the new item is never
 * merged into a deleted one (Item.mergeWith requires equal `deleted`), so each update
 * costs the same however long the run. `append` (the workload before this option) instead
 * inserts each payload at the end of the writer's text: Yjs then merges every insert into
 * one ContentString (mergeWith, `str += right.str`) and slices it to encode each update
 * (ContentString.write, `str.slice(offset)`), so the server's cost per edit grows with
 * everything the writer has typed (V8 flattens the whole run).
 *
 * Either way the writer encodes the update itself (editUpdate) rather than keeping a Y.Doc:
 * byte for byte what a Y.Doc holding only the writer's own Y.Text emits for
 * `doc.transact(() => { text.delete(0, text.length); text.insert(0, payload) })`, or for
 * `text.insert(text.length, payload)` (test/hocuspocus-client.test.ts compares both with a
 * real Y.Doc's). In append mode a Y.Doc would pay the growing cost above in the client
 * process, on the cores the server shares, and inside the measured latency.
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
 * `textName` emits for one edit, when the writer's next clock is `clock` and its text ends
 * with its previous payload, `deleted` characters long (clocks `clock - deleted` to
 * `clock - 1`), which the edit deletes (0: nothing is deleted). One Item of ContentString
 * whose left origin is the writer's previous character, deleted or not (a Y.Text insert at
 * a position skips deleted items to its right: yjs minimizeAttributeChanges), or at clock 0
 * none, and then its parent, the root type, is named instead; then the delete set. Clocks
 * count UTF-16 code units, as Yjs's string lengths do.
 */
export function editUpdate(client: number, clock: number, textName: string, text: string, deleted: number): Uint8Array {
  if (deleted < 0 || deleted > clock) throw new RangeError(`cannot delete ${deleted} characters before clock ${clock}`);
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
  if (deleted === 0) {
    encoding.writeVarUint(e, 0); // delete set: no clients
  } else {
    encoding.writeVarUint(e, 1); // delete set: one client
    encoding.writeVarUint(e, client);
    encoding.writeVarUint(e, 1); // one range
    encoding.writeVarUint(e, clock - deleted);
    encoding.writeVarUint(e, deleted);
  }
  return encoding.toUint8Array(e);
}

/** `text.insert(text.length, payload)`: an edit that deletes nothing. */
export function appendUpdate(client: number, clock: number, textName: string, text: string): Uint8Array {
  return editUpdate(client, clock, textName, text, 0);
}

/** What a writer's edit does to its text: replace it with the payload (default), or append the payload. */
export type EditMode = "replace" | "append";
export const EDIT_MODES: readonly EditMode[] = ["replace", "append"];

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
  /** Writers: the length of the payload the next replace deletes. */
  private lastLength = 0;
  private readonly edit: EditMode;
  /** Send times of edits not yet acked, oldest first: the server answers one connection's messages in order. */
  private readonly inFlight: number[] = [];
  private inFlightHead = 0;
  /** SyncStatus replies owed for our handshake SyncStep2, which come before any edit's. */
  private handshakeStatuses = 0;
  /** Per writer client id: what has arrived of its text (see receiveUpdate). */
  private readonly streams = new Map<number, Stream>();
  private synced?: () => void;
  private closing = false;

  constructor(options: ClientOptions, edit: EditMode) {
    this.options = options;
    this.edit = edit;
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
    this.lastLength = 0;
  }

  sendEdit(payload: string, sentAt: number): void {
    const update = editUpdate(this.clientId, this.clock, TEXT, payload, this.edit === "replace" ? this.lastLength : 0);
    this.clock += payload.length;
    this.lastLength = payload.length;
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
   * Reads the edits out of an update (one edit, or several merged by the server's per-turn
   * flush). Each writer's structs must continue its Yjs clock exactly, and their text,
   * joined, is that writer's payloads in order. Deletions: none when writers append; when
   * they replace, each writer's deleted clocks must grow as one prefix, and after the
   * update its text must be exactly its last payload (everything before it deleted).
   */
  private receiveUpdate(update: Uint8Array, at: number): void {
    const { structs, ds } = Y.decodeUpdate(update);
    const fail = (why: string) => this.options.sink.fail(`client ${this.index}: ${why}`);
    for (const struct of structs) {
      if (!(struct instanceof Y.Item) || !(struct.content instanceof Y.ContentString)) {
        fail(`unexpected struct ${struct.constructor.name}`);
        continue;
      }
      const client = struct.id.client;
      let stream = this.streams.get(client);
      if (!stream) this.streams.set(client, (stream = { clock: 0, partial: "", partialAt: 0, lastAt: 0, deleted: 0 }));
      if (struct.id.clock !== stream.clock) {
        fail(`writer ${client - 1} clock ${struct.id.clock} arrived when ${stream.clock} was due`);
        continue;
      }
      stream.clock += struct.length;
      let text = stream.partial + struct.content.str;
      let end: number;
      while ((end = text.indexOf(";")) >= 0) {
        const edit = parseEdit(text.slice(0, end + 1));
        text = text.slice(end + 1);
        stream.lastAt = stream.partialAt;
        stream.partialAt += end + 1;
        if (!edit) {
          fail(`unreadable payload from writer ${client - 1}`);
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
    if (this.edit === "append") {
      if (ds.clients.size > 0) fail("unexpected deletion in an update");
      return;
    }
    const touched = new Set<number>();
    for (const struct of structs) touched.add(struct.id.client);
    for (const [client, ranges] of ds.clients) {
      touched.add(client);
      const stream = this.streams.get(client);
      if (!stream) continue; // reported below
      for (const { clock, len } of ranges) {
        if (clock !== stream.deleted) fail(`writer ${client - 1} deleted clocks ${clock}-${clock + len - 1} when ${stream.deleted} was next`);
        stream.deleted = Math.max(stream.deleted, clock + len);
      }
    }
    for (const client of touched) {
      const stream = this.streams.get(client);
      if (!stream) fail(`deletion of writer ${client - 1}'s text before any of it arrived`);
      else if (stream.deleted !== stream.lastAt || stream.partial !== "") {
        fail(`writer ${client - 1}'s text is not its last payload alone: clocks ${stream.deleted}-${stream.clock - 1} live, last payload at ${stream.lastAt}`);
      }
    }
  }
}

/** One writer's text as a receiver has seen it, in Yjs clocks. */
interface Stream {
  /** The next clock due. */
  clock: number;
  /** The tail of a payload split across structs, and its first clock. */
  partial: string;
  partialAt: number;
  /** The first clock of the last whole payload. */
  lastAt: number;
  /** Every clock below this one has been deleted. */
  deleted: number;
}
