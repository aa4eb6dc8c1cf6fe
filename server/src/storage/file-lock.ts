import Database from "better-sqlite3";

/**
 * An exclusive lock held through a small SQLite file: a SQLite exclusive lock, a POSIX
 * advisory lock underneath, so the kernel releases it when the holder dies, even by
 * SIGKILL (no stale pid files), and it holds across containers sharing a volume.
 */
export class FileLock {
  private constructor(private readonly db: Database.Database) {}

  /**
   * Takes the lock on file (created if missing), waiting up to waitMs for its holder;
   * null when another process still holds it then.
   */
  static tryAcquire(file: string, waitMs = 0): FileLock | null {
    const db = new Database(file, { timeout: waitMs });
    try {
      db.pragma("journal_mode = DELETE");
      db.pragma("locking_mode = EXCLUSIVE");
      // The first write takes the exclusive lock; locking_mode keeps it until close.
      db.exec("CREATE TABLE IF NOT EXISTS holder (id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER, since INTEGER)");
      db.prepare("INSERT OR REPLACE INTO holder (id, pid, since) VALUES (1, ?, ?)").run(process.pid, Date.now());
      return new FileLock(db);
    } catch (err) {
      db.close();
      if ((err as { code?: string }).code === "SQLITE_BUSY") return null;
      throw err;
    }
  }

  release(): void {
    if (this.db.open) this.db.close();
  }
}
