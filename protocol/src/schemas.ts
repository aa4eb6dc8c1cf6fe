/** zod schemas for the frames a client sends; the server parses every incoming frame with ClientMessage. */
import { z } from "zod";

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
