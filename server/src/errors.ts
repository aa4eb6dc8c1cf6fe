import { ErrorCode } from "../../protocol/src/codes";

export { ErrorCode };

/** An error meant for a client: a code from the catalogue plus a human message. */
export class SyncError extends Error {
  override readonly name = "SyncError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
