import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

export const LOCK_FILE = "server.lock";

export class DataDirLockedError extends Error {
  override readonly name = "DataDirLockedError";
}

/**
 * An exclusive lock on the data directory, held for the life of the server process.
 * It is a SQLite exclusive lock (a POSIX advisory lock underneath), so the kernel
 * releases it when the process dies, even by SIGKILL: no stale pid files. It works
 * across containers that bind-mount the same volume.
 */
export class DataDirLock {
  private constructor(private readonly db: Database.Database) {}

  static acquire(dataDir: string): DataDirLock {
    fs.mkdirSync(dataDir, { recursive: true });
    const db = new Database(path.join(dataDir, LOCK_FILE), { timeout: 0 });
    try {
      db.pragma("journal_mode = DELETE");
      db.pragma("locking_mode = EXCLUSIVE");
      // The first write takes the exclusive lock; locking_mode keeps it until close.
      db.exec("CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, since INTEGER)");
      db.prepare("INSERT OR REPLACE INTO holder (id, pid, since) VALUES (1, ?, ?)").run(process.pid, Date.now());
      return new DataDirLock(db);
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === "SQLITE_BUSY") {
        throw new DataDirLockedError(`${dataDir} is in use by a running sync server; stop it first`);
      }
      throw err;
    }
  }

  release(): void {
    if (this.db.open) this.db.close();
  }
}
