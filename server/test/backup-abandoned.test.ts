import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { BACKUP_DIR, listBackups, removeAbandonedBackups, writeBackup } from "../src/storage/backups";
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

function killed(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.removeAllListeners("exit");
    child.once("exit", () => resolve());
    child.kill("SIGKILL");
  });
}

describe("copies left by a backup or restore cut short", () => {
  test("a crashed backup's .tmp is removed; one still being written by another process is not", async () => {
    const dir = tmpDir();
    // Running first: the crashed one's own sweep, at its start, must leave it alone too.
    const running = await backupInProgress(dir, "2026-01-02T00:00:00.000Z");
    const crashed = await backupInProgress(dir, "2026-01-01T00:00:00.000Z");
    await killed(crashed.child);
    // A .tmp from before these locks existed, with no lock file at all.
    const legacy = path.join(dir, "sync-20251231T000000000Z.db.tmp");
    fs.writeFileSync(legacy, Buffer.alloc(1 << 20));
    try {
      expect(fs.existsSync(crashed.tmp)).toBe(true);
      expect(fs.existsSync(`${crashed.tmp}.lock`)).toBe(true);

      expect(removeAbandonedBackups(dir).sort()).toEqual([crashed.tmp, legacy].sort());
      expect(fs.existsSync(crashed.tmp)).toBe(false);
      expect(fs.existsSync(`${crashed.tmp}.lock`)).toBe(false);
      expect(fs.existsSync(legacy)).toBe(false);
      // Still being written: its writer holds the lock.
      expect(fs.existsSync(running.tmp)).toBe(true);

      // The next backup sweeps too, and leaves no lock file of its own.
      await killed(running.child);
      const file = await writeBackup({ backupTo: async (p) => fs.writeFileSync(p, Buffer.alloc(0)) }, dir, 7, new Date("2026-01-03T00:00:00.000Z"));
      expect(fs.readdirSync(dir)).toEqual([path.basename(file)]);
    } finally {
      await killed(running.child);
    }
  });

  test("a lock file without its .tmp goes only once it is an hour old", () => {
    const dir = tmpDir();
    const lock = path.join(dir, "sync-20260101T000000000Z.db.tmp.lock");
    fs.writeFileSync(lock, "");
    expect(removeAbandonedBackups(dir)).toEqual([]);
    expect(removeAbandonedBackups(dir, Date.now() + 61 * 60 * 1000)).toEqual([lock]);
    expect(fs.existsSync(lock)).toBe(false);
  });

  test("the server removes them at start: a crashed backup's .tmp and a restore's sync.db.tmp", async () => {
    const dataDir = tmpDir();
    const backups = path.join(dataDir, BACKUP_DIR);
    const crashed = await backupInProgress(backups, "2026-01-01T00:00:00.000Z");
    await killed(crashed.child);
    const restoreCopy = path.join(dataDir, `${DB_FILE}.tmp`);
    fs.writeFileSync(restoreCopy, Buffer.alloc(1 << 20));
    fs.writeFileSync(`${restoreCopy}-journal`, "");
    const { server } = await startServer(dataDir);
    try {
      expect(fs.existsSync(crashed.tmp)).toBe(false);
      expect(fs.readdirSync(backups)).toEqual([]);
      expect(fs.existsSync(restoreCopy)).toBe(false);
      expect(fs.existsSync(`${restoreCopy}-journal`)).toBe(false);
      expect(listBackups(backups)).toEqual([]);
    } finally {
      await server.stop();
    }
  });
});
