import crypto from "node:crypto";
import { ErrorCode, SyncError } from "../errors";

/** Deeper than any valid tx-data (see validate.ts); bounds the recursion below. */
const MAX_DEPTH = 8;

/** JSON with object keys sorted, so a resend that rebuilt its maps in another key order hashes the same. */
function canonical(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) throw new SyncError(ErrorCode.INVALID_TX, `tx-data is nested more than ${MAX_DEPTH} levels deep`);
  if (Array.isArray(value)) return `[${value.map((v) => canonical(v, depth + 1)).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k], depth + 1)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * The fingerprint stored with each transaction's client id. A resend is recognised only
 * when its tx-data hashes the same; the same id with other tx-data is an id conflict
 * (two tabs counting 1, 2, 3), never a silent drop of the second one's write.
 */
export function txHash(tx: unknown): string {
  // The one-shot crypto.hash: a quarter of createHash().update().digest()'s ~1.2 µs, which
  // every transaction pays.
  return crypto.hash("sha256", canonical(tx, 0), "base64url");
}

/**
 * Whether tx is the tx-data entry already holds: a resend of it, not an id reused for
 * another write. Throws invalid_tx for tx-data nested too deep to be valid.
 */
export function sameTxData(entry: { readonly txData: unknown; readonly txHash?: string }, tx: unknown): boolean {
  return (entry.txHash ?? txHash(entry.txData)) === txHash(tx);
}
