/**
 * The wire protocol's constants and frame types: the one home shared by the server, the
 * client library and the operator CLI. No runtime dependencies, so a browser bundle that
 * imports it stays small. The zod schemas the server checks incoming frames with are in
 * schemas.ts; a browser bundle takes their types with `import type` from there, which
 * costs nothing at run time. Documented in ../PROTOCOL.md.
 */
import type { ErrorCode } from "./codes";

/** Bumped on any incompatible change to the frames below. See PROTOCOL.md. */
export const PROTOCOL_VERSION = 1;

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
  /** SYNC_MAX_CONNECTIONS reached: retry later. */
  TRY_AGAIN_LATER: 1013,
} as const;

/** A value in a datom. */
export type Value = string | number | boolean;

/** A datom on the wire: [entity, attribute, value, tx, added]. */
export type WireDatom = [number, string, Value, number, boolean];

export interface PresenceEntry {
  session: string;
  name: string;
  page: string | null;
  block: string | null;
}

/** Frames the server sends. */
export type ServerMessage =
  | { type: "welcome"; protocol: number; session: string; name: string; t: number; presence: PresenceEntry[] }
  | { type: "snapshot"; t: number; datoms: WireDatom[] }
  | { type: "tx"; t: number; datoms: WireDatom[]; author: string; time: number }
  | { type: "synced"; t: number }
  | { type: "ack"; id: string; t: number; tempids: Record<string, number> }
  | { type: "rejected"; id: string; code: ErrorCode; message: string }
  | { type: "result"; id: string; rows: unknown }
  | ({ type: "presence" } & PresenceEntry)
  | { type: "online"; session: string; name: string }
  | { type: "offline"; session: string; name: string }
  | { type: "error"; code: ErrorCode; message: string; id?: string };
