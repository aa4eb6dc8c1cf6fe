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
  const json = JSON.stringify(rows ?? null);
  if (Buffer.byteLength(json) > limits.maxBytes) {
    throw new SyncError(ErrorCode.QUERY_TOO_LARGE, `the result is over SYNC_QUERY_MAX_RESULT_BYTES (${limits.maxBytes} bytes); narrow the query`);
  }
  return json;
}
