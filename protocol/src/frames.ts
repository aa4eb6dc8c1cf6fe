/**
 * The wire protocol's constants and frame types: the one home shared by the server, the
 * client library and the operator CLI. No runtime dependencies, so a browser bundle that
 * imports it stays small. The zod schemas the server checks incoming frames with are in
 * schemas.ts; a browser bundle takes their types with `import type` from there, which
 * costs nothing at run time. Documented in ../PROTOCOL.md.
 */
import type { ErrorCode } from "./codes";
import type { TxDatom } from "./tx-datoms";
import type { TxsFrame } from "./txs-frame";

/** Bumped on any incompatible change to the frames below. See PROTOCOL.md. */
export const PROTOCOL_VERSION = 5;

export const WS_PATH = "/ws";

/** WebSocket close codes the server uses. */
export const CloseCode = {
  NORMAL: 1000,
  /** The client speaks a protocol version this server does not. */
  PROTOCOL_ERROR: 1002,
  /** A text frame that is not valid UTF-8 (sent by ws itself). */
  INVALID_PAYLOAD: 1007,
  /** Hello missing, late or malformed, a bad JWT, rate or byte budget abuse. */
  POLICY_VIOLATION: 1008,
  /** A frame over SYNC_MAX_FRAME_BYTES (sent by ws itself). */
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** The server is shutting down or restarting: reconnect with `since`. */
  SERVICE_RESTART: 1012,
  /**
   * SYNC_MAX_CONNECTIONS reached, or the client read too slowly and its send buffer
   * passed SYNC_MAX_BUFFERED_BYTES: reconnect with backoff and `since`.
   */
  TRY_AGAIN_LATER: 1013,
} as const;

/** A value in a datom. */
export type Value = string | number | boolean;

/** A datom with its tx: [entity, attribute, value, tx, added], as in `snapshot` frames and the server's log. */
export type WireDatom = [number, string, Value, number, boolean];

export type { TxDatom };

export interface PresenceEntry {
  session: string;
  name: string;
  page: string | null;
  block: string | null;
}

/** One committed transaction, as a `txs` frame carries it (decodeTxsFrame in ./txs-frame.ts). */
export interface TxEntry {
  t: number;
  /** In the wire form of ./tx-datoms.ts: no tx (it is `t`), implied retractions left out. */
  datoms: TxDatom[];
  author: string;
  time: number;
}

/** Who left, in a `presence` frame. */
export interface PresenceLeft {
  session: string;
  name: string;
}

/** Frames the server sends. */
export type ServerMessage =
  /** `online` counts everyone online, you included; the list itself follows in a `presence` frame with `roster: true`. */
  | { type: "welcome"; protocol: number; session: string; name: string; t: number; online: number }
  /** One chunk of the db at `t`: every `snapshot` frame between `welcome` and `synced` carries the same `t`. */
  | { type: "snapshot"; t: number; datoms: WireDatom[] }
  /** One or more committed transactions, oldest first, contiguous in `t`, in the compact form of ./txs-frame.ts. */
  | TxsFrame
  | { type: "synced"; t: number }
  | { type: "ack"; id: string; t: number; tempids: Record<string, number> }
  | { type: "rejected"; id: string; code: ErrorCode; message: string }
  | { type: "result"; id: string; rows: unknown }
  /**
   * Presence changes coalesced over SYNC_PRESENCE_INTERVAL. `roster: true` (once, after `synced`):
   * `peers` is everyone who shares their presence; replace your list. Otherwise `peers`
   * shared or changed focus (upsert by session) and `left` went offline. `online` counts
   * everyone online, sharing or not.
   */
  | { type: "presence"; roster?: true; peers: PresenceEntry[]; left: PresenceLeft[]; online: number }
  | { type: "error"; code: ErrorCode; message: string; id?: string };
