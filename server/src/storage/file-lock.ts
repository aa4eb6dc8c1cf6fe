import Database from "better-sqlite3";

/**
 * An exclusive lock held through a small SQLite file: a SQLite exclusive lock, a POSIX
 * advisory lock underneath, so the kernel releases it when the holder dies, even by
 * SIGKILL (no stale pid files), and it holds across containers sharing a volume.
 *
 * It is an open `BEGIN EXCLUSIVE` that never writes: taking it needs no free space (a
 * lock that wrote a row could not be taken on a full disk, where removing a crashed
 * backup's copy matters most), and closing rolls nothing back.
 */
export class FileLock {
  private constructor(private readonly db: Database.Database) {}

  /**
   * Takes the lock on file (created if missing), waiting up to waitMs for its holder;
   * null when another process still holds it then. Throws when file cannot be opened as
   * SQLite (not a db, not writable).
   */
  static tryAcquire(file: string, waitMs = 0): FileLock | null {
    const db = new Database(file, { timeout: waitMs });
    try {
      // No rollback journal: in the default mode BEGIN EXCLUSIVE creates one, which fails on a full disk.
      if (db.pragma("journal_mode = MEMORY", { simple: true }) !== "memory") throw new Error(`${file}: could not turn its journal off (is it a WAL-mode db?); remove it`);
      db.exec("BEGIN EXCLUSIVE");
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
