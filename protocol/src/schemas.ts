/** zod schemas for the frames a client sends; the server parses every incoming frame with ClientMessage. */
import { z } from "zod";

const json: z.ZodType<unknown> = z.unknown();

/** Half of a UTF-16 surrogate pair standing alone (e.g. a string cut in the middle of an emoji). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** True when s is well-formed Unicode: no lone surrogates (String.prototype.isWellFormed, without needing ES2024). */
export function wellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/**
 * Strings the server stores as SQLite TEXT (the author and the transaction id are keys
 * of the log) must be well-formed: TEXT is UTF-8, a lone surrogate comes back as U+FFFD,
 * and a resend of a committed transaction was then not recognised and applied twice.
 */
const storedKey = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .refine(wellFormed, { message: "must be well-formed Unicode (a lone UTF-16 surrogate, e.g. half an emoji, cannot be stored)" });
const clientId = storedKey(128);
const name = z.string().trim().pipe(storedKey(64));
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
