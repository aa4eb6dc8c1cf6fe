import type { ErrorCode } from "../../protocol/src/codes";

/**
 * Codes the client adds to the server's catalogue (protocol/src/codes.ts), for things that
 * happen on this side of the socket.
 */
export const ClientErrorCode = {
  /** close() was called before the transaction was acked. */
  CLOSED: "closed",
  /** The server closed with 1009: this transaction's frame is over SYNC_MAX_FRAME_BYTES; split it. */
  FRAME_TOO_BIG: "frame_too_big",
  /**
   * The server sent a frame that breaks the protocol (not JSON, a wrong field, t out of
   * order, over maxFrameBytes). Nothing of it was applied; the client reconnects with backoff.
   */
  BAD_SERVER_FRAME: "bad_server_frame",
  /** The server closed with 1008 or 1002 without saying why in an error frame. */
  POLICY: "policy_violation",
  /** transact() while maxQueuedTransactions or maxQueuedBytes already wait for their ack: retry once some settle. */
  QUEUE_FULL: "queue_full",
  /** An app's listener threw (the "error" event carries it; the sync loop goes on). */
  LISTENER_FAILED: "listener_failed",
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** An error with a stable code: the server's (e.g. "unauthorized", "tx_failed") or the client's. */
export class SyncClientError extends Error {
  override readonly name = "SyncClientError";
  constructor(
    readonly code: ErrorCode | ClientErrorCode,
    message: string,
    /** The WebSocket close code, when the error ended a connection. */
    readonly closeCode?: number,
  ) {
    super(message);
  }
}
