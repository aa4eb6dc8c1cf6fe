import fs from "node:fs";
import type { IncomingMessage } from "node:http";

export const INSUFFICIENT_STORAGE = "the data volume has too little free space for this upload, its copy during the swap and SYNC_MIN_FREE_SPACE; nothing was changed; free space or grow the volume";

/** Why an upload was refused; `status` is the HTTP answer. */
export class UploadError extends Error {
  override readonly name = "UploadError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface UploadLimits {
  readonly maxBytes: number;
  readonly timeoutMs: number;
  /**
   * The data volume's free space, and what an upload must leave of it (the log's floor,
   * SYNC_MIN_FREE_SPACE, and headroom), beyond a second copy of itself for the swap.
   */
  readonly room?: { readonly free: () => number; readonly reserve: number };
}

/** Free space is re-read once per this many bytes received (and before the first). */
const ROOM_CHECK_BYTES = 8 * 1024 ** 2;

/**
 * Streams a request body into `file` (created exclusively, mode 0600) and fsyncs it.
 * Memory stays bounded (the stream's backpressure), the size is counted as bytes arrive
 * (a lying or absent Content-Length changes nothing), and the whole upload has one
 * deadline, so a peer trickling bytes cannot hold the restore slot forever. On any
 * failure the partial file is removed before the promise rejects.
 */
export function receiveUpload(req: IncomingMessage, file: string, limits: UploadLimits): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const out = fs.createWriteStream(file, { flags: "wx", mode: 0o600 });
    let bytes = 0;
    let settled = false;
    const fail = (err: UploadError) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      req.unpipe(out);
      // Stop reading: the caller answers and closes the connection.
      req.pause();
      out.destroy();
      out.once("close", () => {
        fs.rmSync(file, { force: true });
        reject(err);
      });
    };
    const deadline = setTimeout(
      () => fail(new UploadError(408, "upload_timeout", `the upload took longer than SYNC_ADMIN_UPLOAD_TIMEOUT (${limits.timeoutMs} ms); nothing was changed`)),
      limits.timeoutMs,
    );
    let checkedAt = -Infinity;
    req.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > limits.maxBytes) return fail(new UploadError(413, "upload_too_large", `the upload is larger than SYNC_ADMIN_MAX_UPLOAD (${limits.maxBytes} bytes); nothing was changed`));
      // A body without Content-Length (chunked) was never checked against the free space,
      // and a declared one only at its start: without this, an upload could fill the data
      // volume, and the log's writes would be refused until it was gone.
      if (limits.room && bytes - checkedAt >= ROOM_CHECK_BYTES) {
        checkedAt = bytes;
        if (limits.room.free() < bytes + limits.room.reserve) fail(new UploadError(507, "insufficient_storage", INSUFFICIENT_STORAGE));
      }
    });
    const cutOff = () => fail(new UploadError(400, "upload_aborted", "the upload was cut off before it ended; nothing was changed"));
    req.once("close", () => {
      if (!req.complete) cutOff();
    });
    req.on("error", cutOff);
    // `on`, not `once`: a chunk already in flight may still hit the destroyed stream.
    out.on("error", (err) => fail(new UploadError(507, "upload_write_failed", `the server could not store the upload (${(err as NodeJS.ErrnoException).code ?? "error"}); nothing was changed`)));
    out.once("finish", () => {
      if (settled) return;
      try {
        const fd = fs.openSync(file, "r");
        fs.fsyncSync(fd);
        fs.closeSync(fd);
      } catch {
        // The file is re-read and checked next; a failed fsync shows up there or in the swap.
      }
      settled = true;
      clearTimeout(deadline);
      resolve(bytes);
    });
    req.pipe(out);
  });
}
