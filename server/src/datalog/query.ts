import { ErrorCode, SyncError } from "../errors";
import type { PreparedQuery } from "../query/validate";
import { type Db, rawQuery } from "./datascript";

export interface ResultLimits {
  /** Most rows (top-level entries of the result). */
  readonly maxRows: number;
  /** Most bytes of the result as JSON. */
  readonly maxBytes: number;
}

/** Datascript's own errors (ex-info) carry `data`; their messages describe the query, not the server. */
function isQueryError(err: unknown): err is Error {
  return err instanceof Error && "data" in err;
}

/**
 * Runs a validated query (see ../query/validate.ts) on db and returns the rows as JSON
 * text, bounded by limits. Only ever called with a PreparedQuery: its text is the
 * canonical form of a query that passed the allowlist, never the client's text.
 * Runs inside a query worker (../query/worker.ts), never on the writer's thread.
 */
export function runPreparedQuery(db: Db, query: PreparedQuery, limits: ResultLimits): string {
  let rows: unknown;
  try {
    rows = rawQuery(query.text, db, ...query.args);
  } catch (err) {
    // Host errors (TypeError from e.g. (count 5)) would leak internals; name the class only.
    const message = isQueryError(err) ? err.message.slice(0, 500) : `the query failed while running (${err instanceof Error ? err.name : "error"}); check argument types`;
    throw new SyncError(ErrorCode.BAD_QUERY, message);
  }
  if (Array.isArray(rows) && rows.length > limits.maxRows) {
    throw new SyncError(ErrorCode.QUERY_TOO_LARGE, `the result has ${rows.length} rows, over SYNC_QUERY_MAX_ROWS=${limits.maxRows}; narrow the query`);
  }
  // Measured before serializing: JSON.stringify of one huge string (built for free by a
  // chain of `str` doublings) is a single step V8 cannot interrupt, so the worker could not
  // be terminated at its time limit for seconds, while it held its heap and a core.
  if (jsonAtLeast(rows ?? null, limits.maxBytes)) {
    throw new SyncError(ErrorCode.QUERY_TOO_LARGE, `the result is over SYNC_QUERY_MAX_RESULT_BYTES (${limits.maxBytes} bytes); narrow the query`);
  }
  const json = JSON.stringify(rows ?? null);
  if (Buffer.byteLength(json) > limits.maxBytes) {
    throw new SyncError(ErrorCode.QUERY_TOO_LARGE, `the result is over SYNC_QUERY_MAX_RESULT_BYTES (${limits.maxBytes} bytes); narrow the query`);
  }
  return json;
}

/**
 * True when value's JSON is certainly longer than max bytes, from a walk that never copies
 * or flattens a string (a string's length is known without touching its characters). Each
 * string counts its length (each character is at least one byte), each other value one
 * byte: a lower bound, so a false answer still goes through the exact check after
 * serializing. Stops as soon as the bound is passed.
 */
function jsonAtLeast(value: unknown, max: number): boolean {
  let total = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === "string") total += v.length + 2;
    else if (Array.isArray(v)) {
      total += v.length + 1;
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === "object") {
      for (const [key, item] of Object.entries(v)) {
        total += key.length + 4;
        stack.push(item);
      }
    } else total += 1;
    if (total > max) return true;
  }
  return false;
}
