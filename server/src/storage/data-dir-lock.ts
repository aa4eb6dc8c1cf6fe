import fs from "node:fs";
import path from "node:path";
import { FileLock } from "./file-lock";

export const LOCK_FILE = "server.lock";

export class DataDirLockedError extends Error {
  override readonly name = "DataDirLockedError";
}

/**
 * An exclusive lock on the data directory, held for the life of the server process
 * (a FileLock on server.lock: released by the kernel when the process dies, even by
 * SIGKILL, and it works across containers that bind-mount the same volume).
 */
export class DataDirLock {
  private constructor(private readonly lock: FileLock) {}

  static acquire(dataDir: string): DataDirLock {
    fs.mkdirSync(dataDir, { recursive: true });
    const lock = FileLock.tryAcquire(path.join(dataDir, LOCK_FILE));
    if (!lock) throw new DataDirLockedError(`${dataDir} is in use by a running sync server; stop it first`);
    return new DataDirLock(lock);
  }

  release(): void {
    this.lock.release();
  }
}
