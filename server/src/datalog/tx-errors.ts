import { ErrorCode, SyncError } from "../errors";

/**
 * Datascript's messages quote its internal data structures (datoms, ClojureScript maps)
 * and are not ours to promise, so a refused transaction gets one of a few fixed texts.
 * The original error stays as the cause, for the server log.
 */
const KNOWN: ReadonlyArray<[RegExp, string]> = [
  [/unique constraint/i, "a unique identity value (block/uid, node/title) already belongs to another entity"],
  [/Nothing found for|lookup ref/i, "a lookup ref names no entity"],
  [/Conflicting upsert/i, "the transaction upserts one entity under two identities"],
  [/entity id|Highest supported/i, "an entity id is out of range"],
  [/Tempids used only as value/i, "a tempid is used only as a ref value: give that entity an attribute of its own in this transaction"],
];

export function txFailed(err: unknown): SyncError {
  if (err instanceof SyncError) return err;
  if (err instanceof RangeError) {
    // Stack exhaustion in a recursive walk: the tx-data's shape is at fault, not the db.
    return new SyncError(ErrorCode.INVALID_TX, "tx-data is nested too deeply", { cause: err });
  }
  const message = err instanceof Error ? err.message : "";
  const known = KNOWN.find(([pattern]) => pattern.test(message));
  return new SyncError(ErrorCode.TX_FAILED, known ? known[1] : "the transaction conflicts with the current db", { cause: err });
}
