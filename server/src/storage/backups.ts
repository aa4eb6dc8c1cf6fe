import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { DataDirLock } from "./data-dir-lock";
import { FileLock } from "./file-lock";
import { ensurePrivateDir } from "./private-dir";
import { DB_FILE } from "./sqlite-store";
import type { Store } from "./store";

export const BACKUP_DIR = "backups";
const BACKUP_NAME = /^sync-\d{8}T\d{6}\d{3}Z\.db$/;
/** A backup being written, or cut short by a crash. */
const BACKUP_TMP = /^sync-\d{8}T\d{6}\d{3}Z\.db\.tmp$/;
const LOCK_SUFFIX = ".lock";
/** A lock file with no .tmp beside it is removed once this old (its writer may be about to start). */
const ORPHAN_LOCK_MS = 60 * 60 * 1000;
/** How long a backup waits for a sweep that is looking at its lock file. */
const LOCK_WAIT_MS = 5000;

function fsyncPath(p: string): void {
  const fd = fs.openSync(p, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** A second name for file: a hard link, or a copy where the filesystem has no links. Never over an existing name. */
function keepAs(file: string, name: string): void {
  try {
    fs.linkSync(file, name);
  } catch (err) {
    if (!["EPERM", "ENOTSUP", "EOPNOTSUPP", "EXDEV", "EMLINK"].includes((err as NodeJS.ErrnoException).code ?? "")) throw err;
    try {
      fs.copyFileSync(file, name, fs.constants.COPYFILE_EXCL);
      fsyncPath(name);
    } catch (copyErr) {
      fs.rmSync(name, { force: true });
      throw copyErr;
    }
  }
}

/** Whether two paths name the same file (a hard link). */
function sameFile(a: string, b: string): boolean {
  try {
    const x = fs.statSync(a);
    const y = fs.statSync(b);
    return x.ino === y.ino && x.dev === y.dev;
  } catch {
    return false;
  }
}

/** Atomically publishes tmp as final: fsync the file, rename, fsync the directory. */
function publish(tmp: string, final: string): void {
  fsyncPath(tmp);
  fs.renameSync(tmp, final);
  fsyncPath(path.dirname(final));
}

export function backupFileName(now = new Date()): string {
  return `sync-${now.toISOString().replace(/[-:.]/g, "")}.db`;
}

/** Backup files in dir, oldest first. */
export function listBackups(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => BACKUP_NAME.test(f))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Writes a consistent copy of the store (SQLite's online backup) to
 * <dir>/sync-<time>.db via a .tmp file, then keeps only the newest `keep`.
 */
export async function writeBackup(store: Pick<Store, "backupTo">, dir: string, keep: number, now = new Date()): Promise<string> {
  ensurePrivateDir(dir);
  removeAbandonedBackups(dir);
  const final = path.join(dir, backupFileName(now));
  const tmp = `${final}.tmp`;
  // Held while the .tmp exists, so that a sweep (another process's, too) leaves it alone.
  const lock = FileLock.tryAcquire(tmp + LOCK_SUFFIX, LOCK_WAIT_MS);
  if (!lock) throw new Error(`${tmp}${LOCK_SUFFIX} is held by another process; is a backup with the same name running?`);
  try {
    await store.backupTo(tmp);
    selfContained(tmp);
    publish(tmp, final);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    removeSidecars(tmp);
    throw err;
  } finally {
    lock.release();
    removeLockFile(tmp + LOCK_SUFFIX);
  }
  for (const old of listBackups(dir).slice(0, -keep)) fs.rmSync(old, { force: true });
  return final;
}

/**
 * Removes what backups cut short by a crash left in dir, and returns those paths. A .tmp can
 * be as large as the db, and on a VM the backups share the data volume: a few crashes
 * mid-backup could fill it. A .tmp whose writer still holds its lock (a backup running in
 * another process, such as the CLI's beside the server's) is left alone.
 */
export function removeAbandonedBackups(dir: string, now = Date.now()): string[] {
  if (!fs.existsSync(dir)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (BACKUP_TMP.test(name)) {
      // A .tmp written before these locks existed has no lock file: this creates it.
      const lock = FileLock.tryAcquire(file + LOCK_SUFFIX);
      if (!lock) continue;
      try {
        fs.rmSync(file, { force: true });
        removeSidecars(file);
        removed.push(file);
      } finally {
        lock.release();
        removeLockFile(file + LOCK_SUFFIX);
      }
    } else if (name.endsWith(LOCK_SUFFIX) && BACKUP_TMP.test(name.slice(0, -LOCK_SUFFIX.length)) && !fs.existsSync(file.slice(0, -LOCK_SUFFIX.length))) {
      // Gone since the listing: the sweep above removes a .tmp's lock file with it.
      const stat = fs.statSync(file, { throwIfNoEntry: false });
      const lock = stat && now - stat.mtimeMs >= ORPHAN_LOCK_MS ? FileLock.tryAcquire(file) : null;
      if (!lock) continue;
      lock.release();
      removeLockFile(file);
      removed.push(file);
    }
  }
  return removed;
}

/** A lock file and the journal SQLite keeps beside it in exclusive mode. */
function removeLockFile(file: string): void {
  fs.rmSync(file, { force: true });
  removeSidecars(file);
}

/**
 * Removes a restore's copy that a crash left in the data dir (sync.db.tmp, as large as a
 * backup). Only for the data dir lock's holder: a restore runs only under that lock.
 */
export function removeAbandonedRestore(dataDir: string): boolean {
  const tmp = path.join(dataDir, `${DB_FILE}.tmp`);
  const found = fs.existsSync(tmp);
  fs.rmSync(tmp, { force: true });
  removeSidecars(tmp);
  return found;
}

/**
 * A backup copies the live db's WAL-mode header; switch the copy to a rollback journal
 * so it is one self-contained file that opens even from a read-only location.
 */
function selfContained(file: string): void {
  const db = new Database(file);
  try {
    db.pragma("journal_mode = DELETE");
  } finally {
    db.close();
  }
}

/** Removes the -wal, -shm and -journal files SQLite may leave beside a db file. */
export function removeSidecars(file: string): void {
  for (const suffix of ["-wal", "-shm", "-journal"]) fs.rmSync(file + suffix, { force: true });
}

/** Throws unless file is a readable SQLite db holding a sync log. */
export function verifyBackup(file: string, shownAs = file): void {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const check = db.pragma("quick_check", { simple: true });
    if (check !== "ok") throw new Error(`${shownAs} is damaged: ${String(check)}`);
    db.prepare("SELECT count(*) FROM log").get();
  } catch (err) {
    throw new Error(`${shownAs} is not a sync server backup: ${(err as Error).message}`);
  } finally {
    db.close();
  }
}

/**
 * Replaces the data dir's db with a backup. Refuses while a server holds the data
 * dir. The current db is kept beside it as sync.db.before-restore-<time>.
 */
export function restoreBackup(file: string, dataDir: string, now = new Date()): { replaced: string | null } {
  const lock = DataDirLock.acquire(dataDir);
  try {
    return swapBackupIn(file, dataDir, now);
  } finally {
    lock.release();
  }
}

/**
 * restoreBackup's swap, for a caller that holds the data dir's lock and has closed the db
 * (the server's online restore). It keeps its lock throughout: letting it go for the swap,
 * so that restoreBackup could take it, left a moment in which another process could.
 */
export function swapBackupIn(file: string, dataDir: string, now = new Date()): { replaced: string | null } {
  const target = path.join(dataDir, DB_FILE);
  const tmp = `${target}.tmp`;
  let replaced: string | null = null;
  try {
    // Verify the copy, not the original: the backup may sit on a read-only mount.
    fs.copyFileSync(file, tmp);
    verifyBackup(tmp, file);
    // On disk before the old db gets its second name: the window in which both names are
    // one file is then only the rename's.
    fsyncPath(tmp);
    if (fs.existsSync(target)) {
      // Fold any WAL into the old db so the kept copy is self-contained.
      const old = new Database(target);
      old.pragma("wal_checkpoint(TRUNCATE)");
      old.close();
      replaced = `${target}.before-restore-${backupFileName(now).slice(5, -3)}`;
      // Kept under a second name while it still is sync.db: the new file then replaces it
      // in one rename, so a crash at any moment leaves a whole sync.db, old or new. (It was
      // renamed away first: a SIGKILL before the new one was published left no sync.db, and
      // the next boot created an empty one over every acknowledged transaction; found by review.)
      keepAs(target, replaced);
      fsyncPath(dataDir);
    }
    // No old WAL, shared-memory index or rollback journal may meet the new file: SQLite
    // would replay a leftover journal or WAL into it. The old db is checkpointed and closed.
    removeSidecars(target);
    // verifyBackup's read-only open of a WAL-mode copy leaves empty -wal/-shm files beside it.
    removeSidecars(tmp);
    publish(tmp, target);
    return { replaced };
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    removeSidecars(tmp);
    // Not published: the kept name would be a second name of the live db, which the server
    // goes on writing (and SQLite under that name would use another WAL).
    if (replaced !== null && sameFile(replaced, target)) fs.rmSync(replaced, { force: true });
    throw err;
  }
}
