/**
 * POST /admin/restore of a file that used to pass validateUpload (SQLite, integrity_check,
 * user_version, the log's columns) but carries hostile or corrupt content (found in
 * review). Each is now refused (422) before anything is drained, and the old db serves on.
 */
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { AdminPath } from "../../protocol/src/admin";
import { ADMIN_TOKEN, adminRequest, Client, longestStall, seedBlocks as seed, startServer, tmpDir, viewOf as view } from "./helpers";




/** The newest backup, downloaded, with `sql` run on it. */
async function doctoredBackup(port: number, sql: string): Promise<Buffer> {
  expect((await adminRequest(port, "POST", AdminPath.backup)).status).toBe(200);
  const file = path.join(tmpDir(), "doctored.db");
  fs.writeFileSync(file, (await adminRequest(port, "GET", AdminPath.backupLatest)).body);
  const db = new Database(file);
  db.exec(sql);
  db.close();
  const bytes = fs.readFileSync(file);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
  return bytes;
}

/** The upload is refused with 422 naming why; the server keeps its db and serves it. */
async function refused(port: number, url: string, upload: Buffer, why: RegExp): Promise<void> {
  const before = await view(url);
  const answer = await adminRequest(port, "POST", AdminPath.restore, upload);
  expect({ status: answer.status, body: JSON.parse(answer.body.toString()) as unknown }).toEqual({ status: 422, body: { error: "not_a_backup", message: expect.stringMatching(why) } });
  expect(await view(url)).toEqual(before);
}

describe("restore of a hostile or corrupt backup", () => {
  test("a trigger in the uploaded db (which dropped every later log write) is refused; acked writes survive a restart", async () => {
    const dataDir = tmpDir();
    let ctx = await startServer(dataDir, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN });
    try {
      await seed(ctx.url, 2);
      const upload = await doctoredBackup(ctx.port, "CREATE TRIGGER swallow BEFORE INSERT ON log BEGIN SELECT RAISE(IGNORE); END;");
      await refused(ctx.port, ctx.url, upload, /holds trigger swallow, which this server never creates/);
      const c = await Client.connect(ctx.url, "writer");
      const ack = await c.transact("precious", [{ "block/uid": "precious", "block/string": "acked, so durable" }]);
      expect(ack.type).toBe("ack");
      await c.close();
      await ctx.server.stop();
      ctx = await startServer(dataDir, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN });
      const after = await view(ctx.url);
      expect(after.some((d) => d.includes("acked, so durable"))).toBe(true);
    } finally {
      await ctx.server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("a non-numeric resync_through (which turned the fork guard off) is refused", async () => {
    const dataDir = tmpDir();
    const { server, port, url } = await startServer(dataDir, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN });
    try {
      await seed(url, 4);
      const upload = await doctoredBackup(port, "INSERT OR REPLACE INTO meta (key, value) VALUES ('resync_through', 'n/a')");
      await seed(url, 4, 100);
      await refused(port, url, upload, /meta resync_through is "n\/a", not a whole number/);
      expect(server.state).toBe("RUNNING");
    } finally {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("a 72 KB upload with an index on a costly expression (which held the event loop in integrity_check for 4.5 s) is refused before any check runs it", async () => {
    const dataDir = tmpDir();
    const { server, port, url } = await startServer(dataDir, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN });
    try {
      await seed(url, 2);
      // A valid backup plus one table whose index re-evaluates a 10 MB printf per row in
      // integrity_check (CREATE INDEX folds the constant once, so the file is cheap to make).
      const rows = Array.from({ length: 1000 }, (_, i) => `(${i})`).join(",");
      const upload = await doctoredBackup(port, `CREATE TABLE junk (x INTEGER); INSERT INTO junk VALUES ${rows}; CREATE INDEX bomb ON junk (length(printf('%.*c', 10000000, 'x')) + x);`);
      expect(upload.length).toBeLessThan(128 * 1024);
      // The server runs in this process: the longest stall of this process's event loop is
      // how long the server's (acks, heartbeats, /healthz) was held.
      const probeMs = await longestStall(() => refused(port, url, upload, /holds table junk, which this server never creates/));
      expect(probeMs).toBeLessThan(1000);
    } finally {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);

  test("a backup in WAL mode (sqlite3 .backup of a live db) restores, and leaves no -wal/-shm files of the upload on the volume", async () => {
    const dataDir = tmpDir();
    const { server, port, url } = await startServer(dataDir, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN });
    try {
      await seed(url, 2);
      const upload = await doctoredBackup(port, "PRAGMA journal_mode = WAL;");
      expect(upload[18]).toBe(2);
      const r = await adminRequest(port, "POST", AdminPath.restore, upload);
      const left = fs.readdirSync(dataDir).filter((f) => f.startsWith("restore-upload-") || f.startsWith("sync.db.tmp"));
      expect(r.status).toBe(200);
      // Expected (PROTOCOL.md, Admin API): "no upload is left on the volume".
      expect(left).toEqual([]);
    } finally {
      await server.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
