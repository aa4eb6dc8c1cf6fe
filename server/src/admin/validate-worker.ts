/**
 * Worker thread behind validateUploadOffThread: runs validateUpload on its own SQLite
 * connection and posts the verdict. integrity_check reads every page of the upload
 * (gigabytes for a large db), and the writer's event loop must keep acking meanwhile.
 */
import { parentPort, workerData } from "node:worker_threads";
import { UploadError } from "./upload";
import { type ValidateVerdict, validateUpload } from "./validate-upload";

const { file } = workerData as { file: string };
let verdict: ValidateVerdict;
try {
  validateUpload(file);
  verdict = { ok: true };
} catch (err) {
  verdict = err instanceof UploadError ? { ok: false, status: err.status, code: err.code, message: err.message } : { ok: false, message: (err as Error).message };
}
parentPort!.postMessage(verdict);
