import { SCHEMA } from "../../protocol/src/attributes";
import type { PresenceEntry, PresenceLeft, ServerMessage, TxEntry, WireDatom } from "../../protocol/src/frames";
import { describe } from "../../protocol/src/describe";
import { BadTxsFrame, decodeTxsFrame, type TxsFrame } from "../../protocol/src/txs-frame";

/**
 * The server's frames are checked before the client acts on any of them: a server can be
 * buggy, an older or newer build, or not the server at all (a proxy, a captive portal, an
 * attacker with the URL). A frame that does not have the shape protocol/PROTOCOL.md gives
 * it is refused whole, so nothing of it reaches the replica, the outbox or presence.
 * Hand-written rather than zod: the browser bundle stays small.
 */
export class ProtocolViolation extends Error {
  constructor(
    message: string,
    /** The close code the client sends: 1009 for an oversized frame, else 1002. */
    readonly closeCode: 1002 | 1009 = 1002,
  ) {
    super(message);
  }
}

/**
 * What parseServerFrame returns: a checked frame (a `txs` frame decoded into its
 * transactions), or a type this client does not know (ignored).
 */
export type CheckedFrame = Exclude<ServerMessage, TxsFrame> | { type: "txs"; txs: TxEntry[] } | { type: "unknown"; name: string };

const REF_ATTRIBUTES = new Set(Object.entries(SCHEMA).filter(([, s]) => s.type === "ref").map(([a]) => a));
/**
 * Attribute names as the server's schema writes them ("block/string"). An unknown but
 * well-formed name is accepted (a newer server may add attributes; the replica stores it
 * as a plain value); datascript's own namespace ("db/…", ":db/…") never is.
 */
const ATTRIBUTE = /^(?!db\/)[a-z][a-z0-9.-]*\/[a-z0-9][a-z0-9.?!*+-]*$/;

type Obj = Record<string, unknown>;

function fail(what: string): never {
  throw new ProtocolViolation(what);
}

const isObject = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const isPositiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isT = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

function field<T>(frame: Obj, key: string, ok: (v: unknown) => v is T, what: string): T {
  const v = frame[key];
  if (!ok(v)) fail(`${frame.type}.${key} is ${describe(v)}, not ${what}`);
  return v;
}

const str = (v: unknown): v is string => typeof v === "string";
const strOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";
const arr = (v: unknown): v is unknown[] => Array.isArray(v);

/** Entity, attribute and value of a datom: the parts both datom forms share. */
function checkFact(e: unknown, a: unknown, v: unknown, where: string): void {
  if (!isPositiveInt(e)) fail(`${where}: entity ${describe(e)} is not a positive integer`);
  if (typeof a !== "string" || !ATTRIBUTE.test(a)) fail(`${where}: attribute ${describe(a)} is not a schema attribute name`);
  if (!(typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v)))) fail(`${where}: value ${describe(v)} of ${a} is not a string, number or boolean`);
  if (REF_ATTRIBUTES.has(a) && !isPositiveInt(v)) fail(`${where}: ${a} is a ref, but its value ${describe(v)} is not an entity id`);
}

/**
 * One snapshot datom: [entity, attribute, value, tx, added]. `tx` is checked by the
 * caller (a snapshot's datoms are at or below the snapshot's t).
 */
function checkDatom(d: unknown, where: string): WireDatom {
  if (!Array.isArray(d) || d.length !== 5) fail(`${where}: a datom must be [e, attribute, value, tx, added], got ${describe(d)}`);
  const [e, a, v, tx, added] = d as unknown[];
  checkFact(e, a, v, where);
  if (!isPositiveInt(tx)) fail(`${where}: tx ${describe(tx)} is not a positive integer`);
  if (typeof added !== "boolean") fail(`${where}: added ${describe(added)} is not a boolean`);
  return d as WireDatom;
}

/** A `txs` frame: its structure (decodeTxsFrame), then every datom's attribute and value. */
function checkTxs(frame: Obj): TxEntry[] {
  let txs: TxEntry[];
  try {
    txs = decodeTxsFrame(frame);
  } catch (err) {
    if (err instanceof BadTxsFrame) fail(err.message);
    throw err;
  }
  for (const tx of txs) for (const [e, a, v] of tx.datoms) checkFact(e, a, v, `txs frame, t ${tx.t}`);
  return txs;
}

function checkPeer(p: unknown): PresenceEntry {
  if (!isObject(p) || !str(p.session) || !str(p.name) || !strOrNull(p.page) || !strOrNull(p.block)) {
    fail(`presence: a peer must be {session, name, page, block}, got ${describe(p)}`);
  }
  return { session: p.session, name: p.name, page: p.page, block: p.block };
}

function checkLeft(p: unknown): PresenceLeft {
  if (!isObject(p) || !str(p.session) || !str(p.name)) fail(`presence: who left must be {session, name}, got ${describe(p)}`);
  return { session: p.session, name: p.name };
}

/**
 * Parses and checks one frame. Throws ProtocolViolation for anything that is not a frame
 * of protocol 5. Frame-level shape only: the order of frames (welcome first, t contiguous,
 * one snapshot's chunks together) is the client's state machine's to check.
 */
export function parseServerFrame(text: string | null, maxBytes: number): CheckedFrame {
  if (text === null) fail("a binary frame (the protocol is JSON text)");
  // Length in UTF-16 units is at most the UTF-8 byte count: a frame passing here may still be
  // up to 3x maxBytes in bytes, which only loosens the bound, never refuses a legal frame.
  if (text.length > maxBytes) throw new ProtocolViolation(`a frame of ${text.length} characters, over maxFrameBytes (${maxBytes})`, 1009);
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    fail("a frame that is not JSON");
  }
  if (!isObject(frame)) fail(`a frame that is ${describe(frame)}, not an object`);
  if (typeof frame.type !== "string") fail(`a frame whose type is ${describe(frame.type)}`);
  switch (frame.type) {
    case "welcome":
      field(frame, "protocol", Number.isSafeInteger as (v: unknown) => v is number, "an integer");
      field(frame, "session", str, "a string");
      field(frame, "name", str, "a string");
      field(frame, "t", isT, "a tx id");
      field(frame, "online", isT, "a count");
      return frame as CheckedFrame;
    case "snapshot": {
      const t = field(frame, "t", isT, "a tx id");
      const datoms = field(frame, "datoms", arr, "a list");
      for (const d of datoms) {
        const datom = checkDatom(d, `snapshot at t ${t}`);
        if (!datom[4]) fail(`snapshot at t ${t}: a retraction (${JSON.stringify(d)}) in a snapshot`);
        if (datom[3] > t) fail(`snapshot at t ${t}: a datom of a later tx ${datom[3]}`);
      }
      return frame as CheckedFrame;
    }
    case "txs":
      // Contiguous in t by construction: transaction i has the frame's t + i.
      return { type: "txs", txs: checkTxs(frame) };
    case "synced":
      field(frame, "t", isT, "a tx id");
      return frame as CheckedFrame;
    case "ack": {
      field(frame, "id", str, "a string");
      field(frame, "t", isPositiveInt, "a tx id");
      const tempids = field(frame, "tempids", isObject, "an object");
      for (const [k, v] of Object.entries(tempids)) if (!isPositiveInt(v)) fail(`ack.tempids[${JSON.stringify(k)}] is ${describe(v)}, not an entity id`);
      return frame as CheckedFrame;
    }
    case "rejected":
      field(frame, "id", str, "a string");
      field(frame, "code", str, "a string");
      field(frame, "message", str, "a string");
      return frame as CheckedFrame;
    case "result":
      field(frame, "id", str, "a string");
      return frame as CheckedFrame;
    case "presence": {
      if (frame.roster !== undefined && typeof frame.roster !== "boolean") fail(`presence.roster is ${describe(frame.roster)}, not a boolean`);
      const peers = field(frame, "peers", arr, "a list").map(checkPeer);
      const left = field(frame, "left", arr, "a list").map(checkLeft);
      const online = field(frame, "online", isT, "a count");
      return { type: "presence", ...(frame.roster === true ? { roster: true } : {}), peers, left, online };
    }
    case "error":
      field(frame, "code", str, "a string");
      field(frame, "message", str, "a string");
      if (frame.id !== undefined) field(frame, "id", str, "a string");
      return frame as CheckedFrame;
    default:
      // A frame type from a newer server: ignored, so additions need no new protocol version.
      return { type: "unknown", name: frame.type };
  }
}
