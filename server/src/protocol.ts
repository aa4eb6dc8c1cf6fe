import { z } from "zod";
import type { WireDatom } from "./datalog/datascript";
import type { ErrorCode } from "./errors";

/** Bumped on any incompatible change to the frames below. See PROTOCOL.md. */
export const PROTOCOL_VERSION = 1;

export const WS_PATH = "/ws";

/** WebSocket close codes the server uses. */
export const CloseCode = {
  NORMAL: 1000,
  /** The client speaks a protocol version this server does not. */
  PROTOCOL_ERROR: 1002,
  /** Hello missing or malformed, bad token, rate limit abuse. */
  POLICY_VIOLATION: 1008,
  /** A frame over SYNC_MAX_FRAME_BYTES (sent by ws itself). */
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  /** The server is shutting down or restarting: reconnect with `since`. */
  SERVICE_RESTART: 1012,
  /** SYNC_MAX_CONNECTIONS reached: retry later. */
  TRY_AGAIN_LATER: 1013,
} as const;

const json: z.ZodType<unknown> = z.unknown();
const clientId = z.string().min(1).max(128);
const name = z.string().trim().min(1).max(64);
const focus = z.string().max(256).nullable().optional();

export const HelloMessage = z.strictObject({
  type: z.literal("hello"),
  protocol: z.number().int(),
  name,
  /** The last tx id this client has applied. */
  since: z.number().int().nonnegative().optional(),
  jwt: z.string().max(8192).optional(),
});

export const TransactMessage = z.strictObject({
  type: z.literal("transact"),
  id: clientId,
  tx: z.array(json),
});

export const PresenceMessage = z.strictObject({
  type: z.literal("presence"),
  page: focus,
  block: focus,
});

export const QueryMessage = z.strictObject({
  type: z.literal("q"),
  id: clientId,
  query: z.string().min(1).max(16_384),
  args: z.array(json).max(32).default([]),
});

export const ClientMessage = z.discriminatedUnion("type", [HelloMessage, TransactMessage, PresenceMessage, QueryMessage]);

export type HelloMessage = z.infer<typeof HelloMessage>;
export type TransactMessage = z.infer<typeof TransactMessage>;
export type PresenceMessage = z.infer<typeof PresenceMessage>;
export type QueryMessage = z.infer<typeof QueryMessage>;
export type ClientMessage = z.infer<typeof ClientMessage>;

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
