/**
 * The swap at the heart of both restores (the CLI's, with no server running, and the
 * server's online one): what may and may not be left beside the new db, and who holds
 * the data dir's lock meanwhile.
 */
import fs from "node:fs";
import path from "node:path";
import { restoreBackup, swapBackupIn } from "../src/storage/backups";
import { DataDirLock, DataDirLockedError } from "../src/storage/data-dir-lock";
import { DB_FILE } from "../src/storage/sqlite-store";
import { Client, seedBlocks as seed, startServer, viewOf as view } from "./helpers";

describe("swapping a backup in", () => {
  test("no journal, WAL or shared-memory file of the old db is left beside the new one", async () => {
    const ctx = await startServer();
    await seed(ctx.url, 3);
    const backup = (await ctx.server.backup())!;
    const expected = await view(ctx.url);
    await ctx.server.stop();
    const target = path.join(ctx.dataDir, DB_FILE);
    // A rollback journal left by something else: SQLite would take it as the new file's.
    fs.writeFileSync(`${target}-journal`, "");
    const lock = DataDirLock.acquire(ctx.dataDir);
    try {
      swapBackupIn(backup, ctx.dataDir);
    } finally {
      lock.release();
    }
    for (const suffix of ["-journal", "-wal", "-shm"]) expect(fs.existsSync(target + suffix)).toBe(false);
    const again = await startServer(ctx.dataDir);
    try {
      expect(await view(again.url)).toEqual(expected);
    } finally {
      await again.server.stop();
    }
  });

  test("restoreBackup (the CLI's) refuses while a server holds the data dir", async () => {
    const ctx = await startServer();
    try {
      const backup = (await ctx.server.backup())!;
      expect(() => restoreBackup(backup, ctx.dataDir)).toThrow(DataDirLockedError);
    } finally {
      await ctx.server.stop();
    }
  });

  test("the server's online restore never lets go of the data dir's lock", async () => {
    const ADMIN = "admin-token-0123456789abcdef0123456789";
    const ctx = await startServer(undefined, { SYNC_ADMIN_TOKEN: ADMIN });
    const release = jest.spyOn(DataDirLock.prototype, "release");
    try {
      await seed(ctx.url, 2);
      const backup = (await ctx.server.backup())!;
      const atBackup = await view(ctx.url);
      const late = await Client.connect(ctx.url, "late");
      await late.transact("after-backup", [{ "block/uid": "after-backup" }]);
      await late.close();
      const before = release.mock.calls.length;
      await ctx.server.restoreFrom(backup);
      // Released, another process could take it in the gap and open the same files.
      expect(release.mock.calls.length).toBe(before);
      expect(await view(ctx.url)).toEqual(atBackup);
    } finally {
      release.mockRestore();
      await ctx.server.stop();
    }
  });
  test("a swap that fails at its last step leaves sync.db as it was, and no second name for it", async () => {
    const ctx = await startServer();
    await seed(ctx.url, 3);
    const backup = (await ctx.server.backup())!;
    const late = await Client.connect(ctx.url, "late");
    await late.transact("after-backup", [{ "block/uid": "after-backup" }]);
    await late.close();
    const live = await view(ctx.url);
    await ctx.server.stop();
    const target = path.join(ctx.dataDir, DB_FILE);
    const real = fs.renameSync;
    const spy = jest.spyOn(fs, "renameSync").mockImplementation((from, to) => {
      if (String(from).endsWith(`${DB_FILE}.tmp`)) throw Object.assign(new Error("EIO: i/o error, rename"), { code: "EIO" });
      return real(from, to);
    });
    const lock = DataDirLock.acquire(ctx.dataDir);
    try {
      expect(() => swapBackupIn(backup, ctx.dataDir)).toThrow(/EIO/);
    } finally {
      lock.release();
      spy.mockRestore();
    }
    // The kept copy would have been a hard link to the live db: gone, since nothing was swapped.
    expect(fs.readdirSync(ctx.dataDir).filter((f) => f.includes("before-restore") || f.endsWith(".tmp"))).toEqual([]);
    const again = await startServer(ctx.dataDir);
    try {
      expect(await view(again.url)).toEqual(live);
    } finally {
      await again.server.stop();
    }
    expect(fs.existsSync(target)).toBe(true);
  });
});
