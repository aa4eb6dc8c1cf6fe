import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { BACKUP_DIR, listBackups, RESTORE_UPLOAD_PREFIX, removeAbandonedBackups, writeBackup } from "../src/storage/backups";
import { DB_FILE } from "../src/storage/sqlite-store";
import { DIST, startServer, tmpDir } from "./helpers";

/**
 * A real second process runs writeBackup with a copy that never finishes, so its .tmp and
 * its lock exist as they would mid-backup; SIGKILL then leaves them as a crash would.
 */
function backupInProgress(dir: string, isoTime: string): Promise<{ child: ChildProcess; tmp: string }> {
  const script = `
    const fs = require("node:fs");
    const { writeBackup } = require(${JSON.stringify(path.join(DIST, "storage", "backups.js"))});
    setInterval(() => {}, 1000);
    writeBackup({ backupTo: async (p) => { fs.writeFileSync(p, Buffer.alloc(1 << 20)); process.stdout.write(p + "\\n"); await new Promise(() => {}); } },
      ${JSON.stringify(dir)}, 7, new Date(${JSON.stringify(isoTime)}));`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`backup process exited with ${code}`)));
    child.stdout!.once("data", (data: Buffer) => resolve({ child, tmp: data.toString().trim() }));
  });
}

/** What a real copy holds for selfContained(): a SQLite file with a log table. */
function seedCopy(file: string): void {
  const db = new Database(file);
  db.exec("CREATE TABLE log (t INTEGER PRIMARY KEY)");
  db.close();
}

function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

const HOUR = 60 * 60 * 1000;

describe("copies left by a backup or restore cut short", () => {
  test("a crashed backup's .tmp is removed; one still being written by another process is not", async () => {
    const dir = tmpDir();
    // Running first: the crashed one's own sweep, at its start, must leave it alone too.
    const running = await backupInProgress(dir, "2026-01-02T00:00:00.000Z");
    const crashed = await backupInProgress(dir, "2026-01-01T00:00:00.000Z");
    await killed(crashed.child);
    // .tmp files from before these locks existed, with no lock file at all: an old one, and
    // one an old server could still be writing (during an upgrade, beside a new CLI).
    const legacy = path.join(dir, "sync-20251231T000000000Z.db.tmp");
    fs.writeFileSync(legacy, Buffer.alloc(1 << 20));
    fs.utimesSync(legacy, new Date(Date.now() - 2 * HOUR), new Date(Date.now() - 2 * HOUR));
    const legacyFresh = path.join(dir, "sync-20251231T000001000Z.db.tmp");
    fs.writeFileSync(legacyFresh, Buffer.alloc(1024));
    try {
      expect(fs.existsSync(crashed.tmp)).toBe(true);
      expect(fs.existsSync(`${crashed.tmp}.lock`)).toBe(true);

      expect(removeAbandonedBackups(dir)).toEqual({ removed: expect.arrayContaining([crashed.tmp, legacy]), problems: [] });
      expect(removeAbandonedBackups(dir).removed).toEqual([]);
      expect(fs.existsSync(legacyFresh)).toBe(true);
      fs.rmSync(legacyFresh);
      expect(fs.existsSync(crashed.tmp)).toBe(false);
      expect(fs.existsSync(`${crashed.tmp}.lock`)).toBe(false);
      expect(fs.existsSync(legacy)).toBe(false);
      // Still being written: its writer holds the lock.
      expect(fs.existsSync(running.tmp)).toBe(true);

      // The next backup sweeps too, and leaves no lock file of its own.
      await killed(running.child);
      const file = await writeBackup({ backupTo: async (p) => seedCopy(p) }, dir, 7, new Date("2026-01-03T00:00:00.000Z"));
      expect(fs.readdirSync(dir)).toEqual([path.basename(file)]);
    } finally {
      await killed(running.child);
    }
  });

  test("a lock file without its .tmp goes only once it is an hour old", () => {
    const dir = tmpDir();
    const lock = path.join(dir, "sync-20260101T000000000Z.db.tmp.lock");
    fs.writeFileSync(lock, "");
    expect(removeAbandonedBackups(dir).removed).toEqual([]);
    expect(removeAbandonedBackups(dir, Date.now() + HOUR + 60_000).removed).toEqual([lock]);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test("the server removes them at start: a crashed backup's .tmp, a restore's sync.db.tmp and an upload", async () => {
    const dataDir = tmpDir();
    const backups = path.join(dataDir, BACKUP_DIR);
    const crashed = await backupInProgress(backups, "2026-01-01T00:00:00.000Z");
    await killed(crashed.child);
    const restoreCopy = path.join(dataDir, `${DB_FILE}.tmp`);
    fs.writeFileSync(restoreCopy, Buffer.alloc(1 << 20));
    fs.writeFileSync(`${restoreCopy}-journal`, "");
    const upload = path.join(dataDir, `${RESTORE_UPLOAD_PREFIX}123-1700000000000.db`);
    fs.writeFileSync(upload, Buffer.alloc(1 << 20));
    const { server } = await startServer(dataDir);
    try {
      expect(fs.existsSync(crashed.tmp)).toBe(false);
      expect(fs.readdirSync(backups)).toEqual([]);
      expect(fs.existsSync(restoreCopy)).toBe(false);
      expect(fs.existsSync(`${restoreCopy}-journal`)).toBe(false);
      expect(fs.existsSync(upload)).toBe(false);
      expect(listBackups(backups)).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  test("a restore cut short after keeping the old db's name: a kept name that is still the live db goes at start, a real copy stays", async () => {
    const { server, dataDir } = await startServer();
    await server.stop();
    const live = path.join(dataDir, DB_FILE);
    // swapBackupIn's keepAs: a hard link, made before the new db is published.
    const linked = `${live}.before-restore-20260101T000000000`;
    fs.linkSync(live, linked);
    const copied = `${live}.before-restore-20251231T000000000`;
    fs.copyFileSync(live, copied);
    const again = await startServer(dataDir);
    try {
      expect(fs.existsSync(linked)).toBe(false);
      expect(fs.existsSync(copied)).toBe(true);
      expect(fs.existsSync(live)).toBe(true);
    } finally {
      await again.server.stop();
    }
  });

  test("a lock file the sweep cannot open is reported, and the backup is still written", async () => {
    const dir = tmpDir();
    const stray = path.join(dir, "sync-20260101T000000000Z.db.1-0badf00d.tmp");
    fs.writeFileSync(stray, "x");
    fs.writeFileSync(`${stray}.lock`, "not a SQLite file, not even close: " + "z".repeat(200));
    const swept = removeAbandonedBackups(dir);
    expect(swept.removed).toEqual([]);
    expect(swept.problems).toEqual([expect.stringContaining(stray)]);
    const file = await writeBackup({ backupTo: async (p) => seedCopy(p) }, dir, 7, new Date("2026-01-02T00:00:00.000Z"));
    expect(listBackups(dir)).toEqual([file]);
  });

  test("a copy that vanished under its writer is never published (it would replace a good backup)", async () => {
    const dir = tmpDir();
    const good = await writeBackup({ backupTo: async (p) => seedCopy(p) }, dir, 1, new Date("2026-01-01T00:00:00.000Z"));
    await expect(
      writeBackup({ backupTo: async (p) => { seedCopy(p); fs.rmSync(p); } }, dir, 1, new Date("2026-01-02T00:00:00.000Z")),
    ).rejects.toThrow();
    await expect(writeBackup({ backupTo: async (p) => fs.writeFileSync(p, "") }, dir, 1, new Date("2026-01-03T00:00:00.000Z"))).rejects.toThrow(/holds no log table/);
    expect(listBackups(dir)).toEqual([good]);
    expect(fs.readdirSync(dir)).toEqual([path.basename(good)]);
  });

  (process.getuid?.() === 0 ? test : test.skip)("on a full disk, a crashed backup's copy is still removed (the lock writes nothing)", async () => {
    const mnt = tmpDir();
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt]);
    try {
      const crashed = await backupInProgress(mnt, "2026-01-01T00:00:00.000Z");
      await killed(crashed.child);
      // Fill what is left.
      try {
        fs.writeFileSync(path.join(mnt, "fill"), Buffer.alloc(8 << 20));
      } catch {
        // ENOSPC: as intended
      }
      expect(removeAbandonedBackups(mnt)).toEqual({ removed: [crashed.tmp], problems: [] });
      expect(fs.existsSync(crashed.tmp)).toBe(false);
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});
