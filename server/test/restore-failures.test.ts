/**
 * The online restore's swap (storage/backups.ts swapBackupIn, server.ts doRestore) when
 * something goes wrong in the middle of it: the disk fills during the copy, or the process
 * dies between keeping the old db aside and publishing the new one (found by a hostile
 * review: the first left the server closed for good while the answer said the old db
 * served again; the second restarted on an empty db).
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { AdminPath } from "../../protocol/src/admin";
import { ADMIN_TOKEN, adminRequest, exited, seedBlocks as seed, spawnServer, startServer, tmpDir, viewOf as view } from "./helpers";



describe("a restore swap that fails half way", () => {
  test("disk full while the swap copies the upload (ENOSPC): the old db serves again, as the 500 says", async () => {
    const ctx = await startServer(undefined, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN });
    const real = fs.copyFileSync;
    const spy = jest.spyOn(fs, "copyFileSync").mockImplementation((src, dest, mode) => {
      if (String(dest).endsWith(`${path.sep}sync.db.tmp`)) {
        throw Object.assign(new Error("ENOSPC: no space left on device, copyfile"), { code: "ENOSPC", errno: -28, syscall: "copyfile" });
      }
      return real(src, dest, mode);
    });
    try {
      await seed(ctx.url, 3);
      expect((await adminRequest(ctx.port, "POST", AdminPath.backup)).status).toBe(200);
      const backup = (await adminRequest(ctx.port, "GET", AdminPath.backupLatest)).body;
      const before = await view(ctx.url);
      const r = await adminRequest(ctx.port, "POST", AdminPath.restore, backup);
      expect(r.status).toBe(500);
      expect(r.json().message).toMatch(/previous db is serving again/);
      // What the answer claims: the server is up on the previous db.
      const state = ctx.server.state;
      const ready = await new Promise<number>((resolve) => http.get({ host: "127.0.0.1", port: ctx.port, path: "/readyz", agent: false }, (res) => (res.resume(), resolve(res.statusCode!))));
      expect({ state, ready }).toEqual({ state: "RUNNING", ready: 200 });
      expect(await view(ctx.url)).toEqual(before);
    } finally {
      spy.mockRestore();
      await ctx.server.stop();
    }
  });

  test.each([["aside"], ["publish"]])("SIGKILL at %s during the swap: the restart serves the old or the new data, never an empty db", async (killAt) => {
    const dataDir = tmpDir();
    const preload = path.join(__dirname, "fixtures", "kill-mid-restore.js");
    let s = await spawnServer(dataDir, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN });
    let url = `ws://127.0.0.1:${s.port}/ws`;
    await seed(url, 5);
    expect((await adminRequest(s.port, "POST", AdminPath.backup)).status).toBe(200);
    const backup = (await adminRequest(s.port, "GET", AdminPath.backupLatest)).body;
    const atBackup = await view(url);
    await seed(url, 3, 100);
    const acked = await view(url);
    s.child.kill("SIGTERM");
    await exited(s.child);

    // Same data dir, with the crash hook: the restore dies mid-swap.
    s = await spawnServer(dataDir, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN, NODE_OPTIONS: `--require ${preload}`, KILL_AT: killAt });
    await adminRequest(s.port, "POST", AdminPath.restore, backup).catch(() => undefined);
    expect((await exited(s.child)).signal).toBe("SIGKILL");

    s = await spawnServer(dataDir, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN });
    url = `ws://127.0.0.1:${s.port}/ws`;
    try {
      const after = await view(url);
      // Either history (the backup's, or everything acked before the restore); an empty db
      // would have dropped every acknowledged transaction from service.
      expect(after.length).toBeGreaterThan(0);
      expect([JSON.stringify(atBackup), JSON.stringify(acked)]).toContain(JSON.stringify(after));
    } finally {
      s.child.kill("SIGTERM");
      await exited(s.child);
    }
  }, 60_000);
});
