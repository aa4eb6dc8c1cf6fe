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
  /** A second hello on the same connection. */
  ALREADY_HELLO: "already_hello",
  UNSUPPORTED_PROTOCOL: "unsupported_protocol",
  /** Missing or wrong access token. */
  UNAUTHORIZED: "unauthorized",
  /** JWT missing, malformed, badly signed or expired. */
  BAD_JWT: "bad_jwt",
  RATE_LIMITED: "rate_limited",
  TOO_MANY_CONNECTIONS: "too_many_connections",
  /** The transaction's shape is wrong (not a list of maps or op vectors). */
  INVALID_TX: "invalid_tx",
  UNKNOWN_ATTRIBUTE: "unknown_attribute",
  /** A value does not match its attribute's type. */
  BAD_VALUE: "bad_value",
  TX_TOO_LARGE: "tx_too_large",
  /** Datascript refused the transaction (e.g. a unique conflict or an unknown lookup ref). */
  TX_FAILED: "tx_failed",
  /** The log could not be written; nothing was applied. */
  STORAGE_ERROR: "storage_error",
  SHUTTING_DOWN: "shutting_down",
  BAD_QUERY: "bad_query",
  QUERY_TIMEOUT: "query_timeout",
  INTERNAL: "internal",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
