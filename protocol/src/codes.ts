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
  BAD_QUERY: "bad_query",
  QUERY_TIMEOUT: "query_timeout",
  INTERNAL: "internal",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
