/**
 * The error catalogue. Every error a client can see has a stable code, documented in
 * ../PROTOCOL.md; messages are for humans and may change.
 */
export const ErrorCode = {
  /** The frame is not valid UTF-8 JSON. */
  BAD_JSON: "bad_json",
  /** A binary frame; the protocol is text JSON only. */
  BAD_FRAME: "bad_frame",
  /** JSON that is not a known message, or a known message with bad fields. */
  BAD_MESSAGE: "bad_message",
  /** Any message other than hello before hello. */
  HELLO_REQUIRED: "hello_required",
  /** No valid hello within SYNC_HELLO_TIMEOUT of connecting. */
  HELLO_TIMEOUT: "hello_timeout",
  /** A second hello on the same connection. */
  ALREADY_HELLO: "already_hello",
  UNSUPPORTED_PROTOCOL: "unsupported_protocol",
  /** Missing or wrong access token. */
  UNAUTHORIZED: "unauthorized",
  /** JWT missing, malformed, badly signed or expired. */
  BAD_JWT: "bad_jwt",
  RATE_LIMITED: "rate_limited",
  TOO_MANY_CONNECTIONS: "too_many_connections",
  /** Over SYNC_BYTES_PER_MINUTE of frames on this connection. */
  BYTE_BUDGET: "byte_budget",
  /** The transaction's shape is wrong (not a list of maps or op vectors). */
  INVALID_TX: "invalid_tx",
  UNKNOWN_ATTRIBUTE: "unknown_attribute",
  /** A value does not match its attribute's type. */
  BAD_VALUE: "bad_value",
  TX_TOO_LARGE: "tx_too_large",
  /** An explicit entity id (in e, :db/id or a ref value) names no entity in the db; create entities with tempids. */
  UNKNOWN_ENTITY: "unknown_entity",
  /** The transaction id was already used by this client (name or JWT sub) for different tx-data. */
  ID_CONFLICT: "id_conflict",
  /** Datascript refused the transaction (e.g. a unique conflict or an unknown lookup ref). */
  TX_FAILED: "tx_failed",
  /** The log could not be written; nothing was applied. */
  STORAGE_ERROR: "storage_error",
  /** The data volume is below SYNC_MIN_FREE_SPACE or the db is at SYNC_MAX_DB_BYTES; nothing was applied. */
  STORAGE_FULL: "storage_full",
  SHUTTING_DOWN: "shutting_down",
  /** The query does not parse, uses a form or function outside the allowlist, or failed. */
  BAD_QUERY: "bad_query",
  /** The query ran (or waited) past SYNC_QUERY_TIMEOUT and was stopped. */
  QUERY_TIMEOUT: "query_timeout",
  /** A query from this connection is still running; wait for its reply first. */
  QUERY_BUSY: "query_busy",
  /** The result is over SYNC_QUERY_MAX_ROWS or SYNC_QUERY_MAX_RESULT_BYTES, or the query ran out of SYNC_QUERY_MEMORY. */
  QUERY_TOO_LARGE: "query_too_large",
  INTERNAL: "internal",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
