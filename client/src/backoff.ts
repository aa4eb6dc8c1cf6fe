import { CloseCode } from "../../protocol/src/frames";

export interface BackoffOptions {
  /** The first retry waits between base/2 and base. */
  readonly baseMs: number;
  /** No retry waits longer than this. */
  readonly maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 500, maxMs: 30_000 };

/** What a closed connection leads to (the state machine's table; see README.md). */
export type CloseAction =
  /** Reconnect after the backoff. */
  | "retry"
  /** Reconnect, but not before the server had time to free a slot (1013). */
  | "retry-later"
  /** The largest unacked transaction is over the server's frame limit: reject it, then reconnect. */
  | "drop-largest"
  /** Stop: retrying cannot help until the app changes something (token, JWT, version). */
  | "fail";

/**
 * The close code table. 1008 (bad token, bad or expired JWT, hello missing, rate abuse)
 * and 1002 (protocol version) stop: the same hello would get the same answer, so
 * retrying would only hammer the server. Everything else is transient: 1012 restart,
 * 1013 full, 1006 abnormal (a killed server, a dropped network), 1001, 1011.
 */
export function closeAction(code: number): CloseAction {
  switch (code) {
    case CloseCode.POLICY_VIOLATION:
    case CloseCode.PROTOCOL_ERROR:
      return "fail";
    case CloseCode.TRY_AGAIN_LATER:
      return "retry-later";
    case CloseCode.MESSAGE_TOO_BIG:
      return "drop-largest";
    default:
      return "retry";
  }
}

/** Attempts a 1013 starts from, so a full server is not retried at once (8x the base). */
export const RETRY_LATER_ATTEMPT = 4;

/**
 * Exponential backoff with "equal jitter": attempt n (from 1) waits a random time in
 * [d/2, d] with d = min(max, base * 2^(n-1)). The jitter spreads a crowd of clients
 * that lost the same server at the same moment; the floor of d/2 keeps any one of
 * them from retrying in a tight loop.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const d = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(d / 2 + random() * (d / 2));
}
