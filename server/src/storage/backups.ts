import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { DataDirLock } from "./data-dir-lock";
import { FileLock } from "./file-lock";
import { ensurePrivateDir } from "./private-dir";
import { readResyncThrough, writeResyncThrough } from "./resync";
import { DB_FILE } from "./sqlite-store";
import type { Store } from "./store";

export const BACKUP_DIR = "backups";
const BACKUP_NAME = /^sync-\d{8}T\d{6}\d{3}Z\.db$/;
/**
 * A backup being written, or cut short by a crash: the backup's name, then its writer's
 * pid and a random tag, so two writers (the server's schedule and the CLI) never share
 * one. Names without them are from versions before the tag.
 */
const BACKUP_TMP = /^sync-\d{8}T\d{6}\d{3}Z\.db(\.\d+-[0-9a-f]{8})?\.tmp$/;
const TAGGED_TMP = /\.\d+-[0-9a-f]{8}\.tmp$/;
const LOCK_SUFFIX = ".lock";
/** A lock file with no .tmp beside it is removed once this old (its writer may be about to start). */
const ORPHAN_LOCK_MS = 60 * 60 * 1000;
/**
 * Written in the data dir before a restore publishes the new db, removed once that db has
 * loaded (clearRestoreMarker): a boot that finds it, and a db that does not load, puts the
 * kept copy back (the online restore does the same in-process; a crash between the publish
 * and the load left a server that could not boot, its data only under the kept name).
 */
export const RESTORE_MARKER = "restore-pending.json";
/** A restore upload's file in the data dir (admin API): the prefix, then pid and time. */
export const RESTORE_UPLOAD_PREFIX = "restore-upload-";

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
export async function writeBackup(store: Pick<Store, "backupTo">, dir: string, keep: number, now = new Date(), onSwept?: (swept: Swept) => void): Promise<string> {
  ensurePrivateDir(dir);
  // Never a reason to fail the backup: what it could not remove it reports, next time too.
  const swept = removeAbandonedBackups(dir);
  onSwept?.(swept);
  const final = path.join(dir, backupFileName(now));
  const tmp = `${final}.${process.pid}-${crypto.randomBytes(4).toString("hex")}.tmp`;
  // Held while the .tmp exists, so that a sweep (another process's, too) leaves it alone.
  // The name is this writer's own: nobody else can hold its lock.
  const lock = FileLock.tryAcquire(tmp + LOCK_SUFFIX);
  if (!lock) throw new Error(`${tmp}${LOCK_SUFFIX} is held by another process`);
  try {
    await store.backupTo(tmp);
    selfContained(tmp);
    publish(tmp, final);
  } catch (err) {
    removeDbFile(tmp);
    throw err;
  } finally {
    lock.release();
    removeDbFile(tmp + LOCK_SUFFIX);
  }
  for (const old of listBackups(dir).slice(0, -keep)) fs.rmSync(old, { force: true });
  return final;
}

export interface Swept {
  /** Paths removed. */
  readonly removed: string[];
  /** What could not be looked at or removed, one line each (the sweep goes on past them). */
  readonly problems: string[];
}

/**
 * Removes what backups cut short by a crash left in dir. A .tmp can be as large as the db,
 * and on a VM the backups share the data volume: a few crashes mid-backup could fill it. A
 * .tmp whose writer still holds its lock (a backup running in another process, such as the
 * CLI's beside the server's) is left alone. Never throws: an entry it cannot handle (a lock
 * file another user owns, one that is not SQLite) is reported and skipped.
 */
export function removeAbandonedBackups(dir: string, now = Date.now()): Swept {
  return sweep(dir, (file, removed) => sweepOne(file, now, removed));
}

/** Calls each(file, removed) for every entry of dir; what throws is reported, and the sweep goes on. */
function sweep(dir: string, each: (file: string, removed: string[]) => void): Swept {
  const swept: Swept = { removed: [], problems: [] };
  let names: string[];
  try {
    names = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  } catch (err) {
    swept.problems.push(`${dir}: ${(err as Error).message}`);
    return swept;
  }
  for (const name of names) {
    try {
      each(path.join(dir, name), swept.removed);
    } catch (err) {
      swept.problems.push(`${path.join(dir, name)}: ${(err as Error).message}`);
    }
  }
  return swept;
}

function sweepOne(file: string, now: number, removed: string[]): void {
  const name = path.basename(file);
  const lockOf = name.endsWith(LOCK_SUFFIX) ? name.slice(0, -LOCK_SUFFIX.length) : null;
  if (BACKUP_TMP.test(name)) {
    // A .tmp from a version before the tag has no lock; its writer (an old server, while
    // a new CLI runs beside it during an upgrade) may still be at work: only an old one goes.
    if (!TAGGED_TMP.test(name) && !olderThan(file, ORPHAN_LOCK_MS, now)) return;
    const lock = FileLock.tryAcquire(file + LOCK_SUFFIX);
    if (!lock) return;
    try {
      // Gone already when its writer published it (and let go) since the listing.
      if (removeDbFile(file)) removed.push(file);
    } finally {
      lock.release();
      removeDbFile(file + LOCK_SUFFIX);
    }
  } else if (lockOf !== null && BACKUP_TMP.test(lockOf) && !fs.existsSync(path.join(path.dirname(file), lockOf))) {
    // Its writer may have created it a moment ago and be about to take it.
    if (!olderThan(file, ORPHAN_LOCK_MS, now)) return;
    const lock = FileLock.tryAcquire(file);
    if (!lock) return;
    lock.release();
    if (removeDbFile(file)) removed.push(file);
  }
}

/** Removes file; false when it was not there (another sweep, or its writer, got there first). */
function removeIfThere(file: string): boolean {
  try {
    fs.rmSync(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
}

/** False too when the file is gone (the sweep removes a .tmp's lock file with it). */
function olderThan(file: string, ms: number, now: number): boolean {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  return stat !== undefined && now - stat.mtimeMs >= ms;
}

/**
 * Removes what a restore cut short by a crash left in the data dir, each as large as a
 * backup: the swap's copy (sync.db.tmp) and admin API uploads. Only for the data dir
 * lock's holder: restores and uploads run only under that lock. Never throws.
 */
export function removeAbandonedRestores(dataDir: string): Swept {
  const live = path.join(dataDir, DB_FILE);
  return sweep(dataDir, (file, removed) => {
    const name = path.basename(file);
    // swapBackupIn gives the old db its kept name as a hard link before publishing the new
    // one: cut short between the two, the "kept" name is the live db itself, and would go on
    // following it (without its WAL) while its name says it is a frozen copy.
    const stillLive = name.startsWith(`${DB_FILE}.before-restore-`) && sameFile(file, live);
    if (name !== `${DB_FILE}.tmp` && !name.startsWith(RESTORE_UPLOAD_PREFIX) && !stillLive) return;
    // The kept name only: the live db's WAL is beside sync.db, not beside it.
    if (stillLive ? removeIfThere(file) : removeDbFile(file)) removed.push(file);
  });
}

/**
 * A backup copies the live db's WAL-mode header; switch the copy to a rollback journal
 * so it is one self-contained file that opens even from a read-only location. A copy that
 * is gone (removed under its writer) or holds no log is refused here: opening a missing
 * file would create an empty db, published as a backup, and pruning would then delete the
 * oldest good one.
 */
function selfContained(file: string): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma("journal_mode = DELETE");
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log'").get()) throw new Error(`${file} holds no log table: not a copy of the sync db`);
  } finally {
    db.close();
  }
}

/**
 * Removes a SQLite file (a copy, an upload, a lock file, which earlier versions journaled)
 * and the -wal, -shm and -journal files SQLite may leave beside it; false when the file
 * itself was not there.
 */
export function removeDbFile(file: string): boolean {
  const was = removeIfThere(file);
  removeSidecars(file);
  return was;
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
    const exists = fs.existsSync(target);
    let reach = 0;
    if (exists) {
      // Fold any WAL into the old db so the kept copy is self-contained.
      const old = new Database(target);
      try {
        old.pragma("wal_checkpoint(TRUNCATE)");
        reach = historyReach(old);
      } catch (err) {
        // Putting back the copy a failed restore replaced: the db being replaced never
        // loaded, served nobody, and may be unreadable. Anything else stops the swap.
        if (!path.basename(file).startsWith(`${DB_FILE}.before-restore-`)) throw err;
      } finally {
        old.close();
      }
    }
    // The resync guard (resync.ts) travels inside the new file, so the rename that
    // publishes it publishes the guard too. Written after the new db loaded, as it was, a
    // crash in between booted the restored db unguarded: a client offline through the
    // restore then got the new history's entries on top of the old one's (a silent fork).
    guardAgainst(tmp, reach);
    // On disk before the old db gets its second name: the window in which both names are
    // one file is then only the rename's.
    fsyncPath(tmp);
    if (exists) {
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
    writeRestoreMarker(dataDir, replaced);
    publish(tmp, target);
    return { replaced };
  } catch (err) {
    removeDbFile(tmp);
    removeIfThere(path.join(dataDir, RESTORE_MARKER));
    // Not published: the kept name would be a second name of the live db, which the server
    // goes on writing (and SQLite under that name would use another WAL).
    if (replaced !== null && sameFile(replaced, target)) fs.rmSync(replaced, { force: true });
    throw err;
  }
}

/** The highest t a db's history reached: its log, its snapshots, and the guard it already carries. */
function historyReach(db: Database.Database): number {
  const max = (table: string) => (db.prepare(`SELECT MAX(t) AS t FROM ${table}`).get() as { t: number | null }).t ?? 0;
  return Math.max(max("log"), max("snapshots"), readResyncThrough(db));
}

/** Raises the db file's resync guard to at least t, in the file itself (no WAL left beside it). */
function guardAgainst(file: string, t: number): void {
  const db = new Database(file, { fileMustExist: true });
  try {
    const guard = Math.max(readResyncThrough(db), t);
    if (guard > 0) writeResyncThrough(db, guard);
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

function writeRestoreMarker(dataDir: string, replaced: string | null): void {
  const marker = path.join(dataDir, RESTORE_MARKER);
  fs.writeFileSync(marker, JSON.stringify({ replaced: replaced === null ? null : path.basename(replaced) }));
  fsyncPath(marker);
  fsyncPath(dataDir);
}

/** The kept copy a restore that has not yet loaded would go back to: null when none is pending or nothing was replaced. */
export function pendingRestore(dataDir: string): { pending: boolean; replaced: string | null } {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dataDir, RESTORE_MARKER), "utf8");
  } catch {
    return { pending: false, replaced: null };
  }
  try {
    const name = (JSON.parse(text) as { replaced?: unknown }).replaced;
    // Only a kept copy's own name, in this data dir.
    if (typeof name === "string" && name.startsWith(`${DB_FILE}.before-restore-`) && !name.includes("/")) return { pending: true, replaced: path.join(dataDir, name) };
  } catch {
    // A marker cut short by a crash: the restore had not published yet, nothing to undo.
  }
  return { pending: true, replaced: null };
}

/** The restored db loaded: nothing to undo any more. */
export function clearRestoreMarker(dataDir: string): void {
  if (!removeIfThere(path.join(dataDir, RESTORE_MARKER))) return;
  fsyncPath(dataDir);
}

/**
 * Deletes from a fresh copy the log rows after t. An online copy also holds groups written
 * but not yet durable (never acked): a backup described as the committed db at t held up
 * to 32 transactions more, which a restore would have brought back (a durability review).
 */
export function trimLogAfter(file: string, t: number): number {
  const db = new Database(file, { fileMustExist: true });
  try {
    return db.prepare("DELETE FROM log WHERE t > ?").run(t).changes;
  } finally {
    db.close();
  }
}
