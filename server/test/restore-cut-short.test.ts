/**
 * A restore's db is published (one rename) before it is loaded. Whatever stops the server
 * between the two (a crash, or the CLI's restore, which never loads it) must leave neither
 * a silent fork nor a server that cannot boot (a durability review):
 * - the resync guard against the replaced history was written only after the new db had
 *   loaded, so a crash in between, and every CLI restore, booted the restored db without it:
 *   a client offline through the restore then got the new history's entries on top of the
 *   old one's;
 * - a db that does not load (a log with a gap passes the backup checks) was put back only
 *   by the running server: after a crash, every boot failed, the acknowledged data only
 *   under the kept copy's name.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { RESTORE_MARKER, restoreBackup } from "../src/storage/backups";
import { readResyncThrough } from "../src/storage/resync";
import { DB_FILE } from "../src/storage/sqlite-store";
import { Client, clientView, seedBlocks as seed, startServer, viewOf as view } from "./helpers";

describe("a restore cut short between the publish and the load", () => {
  test("the guard travels in the restored file: a client offline through it gets a snapshot, not a fork", async () => {
    const ctx = await startServer();
    await seed(ctx.url, 3);
    const backup = (await ctx.server.backup())!;
    await seed(ctx.url, 5, 3); // the history the restore replaces
    const oldHead = ctx.server.sync.t;
    await ctx.server.stop();

    restoreBackup(backup, ctx.dataDir); // publishes, never loads: as a crash right after the rename
    const file = new Database(path.join(ctx.dataDir, DB_FILE), { readonly: true });
    expect(readResyncThrough(file)).toBe(oldHead);
    file.close();

    const again = await startServer(ctx.dataDir);
    try {
      await seed(again.url, 10, 100); // the new history passes the old head
      expect(again.server.sync.t).toBeGreaterThan(oldHead);
      const offline = await Client.connect(again.url, "was-offline", { since: oldHead });
      // A snapshot replaces what it held; from the log it would have kept the 5 replaced blocks.
      expect(offline.frames.some((f) => f.type === "snapshot")).toBe(true);
      expect(clientView(offline.messages)).toEqual(await view(again.url));
      await offline.close();
    } finally {
      await again.server.stop();
    }
  });

  test("a restored db that does not load is replaced by the kept copy at the next boot", async () => {
    const ctx = await startServer();
    await seed(ctx.url, 3);
    const backup = (await ctx.server.backup())!;
    await seed(ctx.url, 2, 3);
    const expected = await view(ctx.url);
    await ctx.server.stop();

    // A gap in the log: every check of a backup passes, the load's replay does not.
    const broken = path.join(path.dirname(backup), "broken.db");
    fs.copyFileSync(backup, broken);
    const db = new Database(broken);
    db.prepare("DELETE FROM log WHERE t = (SELECT MIN(t) + 1 FROM log)").run();
    db.close();
    const { replaced } = restoreBackup(broken, ctx.dataDir);
    expect(replaced).not.toBeNull();
    expect(fs.existsSync(path.join(ctx.dataDir, RESTORE_MARKER))).toBe(true);

    const again = await startServer(ctx.dataDir);
    try {
      expect(await view(again.url)).toEqual(expected);
      expect(fs.existsSync(path.join(ctx.dataDir, RESTORE_MARKER))).toBe(false);
    } finally {
      await again.server.stop();
    }
    // And it stays bootable.
    const third = await startServer(ctx.dataDir);
    await third.server.stop();
  });

  test("a restored db that loads clears the marker", async () => {
    const ctx = await startServer();
    await seed(ctx.url, 2);
    const backup = (await ctx.server.backup())!;
    await ctx.server.stop();
    restoreBackup(backup, ctx.dataDir);
    const again = await startServer(ctx.dataDir);
    await again.server.stop();
    expect(fs.existsSync(path.join(ctx.dataDir, RESTORE_MARKER))).toBe(false);
  });
});
