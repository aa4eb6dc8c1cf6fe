/**
 * A backup (POST /admin/backup, or the scheduled ones) on a nearly full data volume. It
 * checked only that the floor was not already crossed, then wrote a full copy, which took
 * the volume below SYNC_MIN_FREE_SPACE: every write was then refused (found by a hostile
 * review). The volume is simulated: statfs reports a fixed capacity minus what the data dir holds.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { AdminPath } from "../../protocol/src/admin";
import { Client, seedBlocks as seed, startServer } from "./helpers";

const ADMIN = "admin-token-0123456789abcdef0123456789";
const FLOOR = 8 * 1024 ** 2;

function du(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += du(p);
    else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

function post(port: number, p: string): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: p, headers: { authorization: `Bearer ${ADMIN}` }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("end", () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.once("error", reject);
    req.end();
  });
}

test("a backup that would take the volume below SYNC_MIN_FREE_SPACE is refused; the log keeps accepting writes", async () => {
  const ctx = await startServer(undefined, { SYNC_ADMIN_TOKEN: ADMIN, SYNC_MIN_FREE_SPACE: "8MiB" });
  const real = fs.statfsSync;
  let capacity = Infinity;
  const spy = jest.spyOn(fs, "statfsSync").mockImplementation(((p: fs.PathLike, o?: fs.StatFsOptions) => {
    const s = real(p, o as never) as fs.StatsFs;
    if (!Number.isFinite(capacity) || !String(p).startsWith(ctx.dataDir)) return s;
    // A small volume: free = capacity - what the data dir holds.
    return { ...s, bsize: 1, bavail: Math.max(0, capacity - du(ctx.dataDir)), blocks: capacity } as fs.StatsFs;
  }) as typeof fs.statfsSync);
  try {
    await seed(ctx.url, 200);
    // One backup to learn a copy's size, then removed.
    const probe = (await ctx.server.backup())!;
    const copyBytes = fs.statSync(probe).size;
    for (const f of fs.readdirSync(path.dirname(probe))) fs.rmSync(path.join(path.dirname(probe), f));
    // Room for the floor plus half a copy: a full backup cannot fit above the floor.
    capacity = du(ctx.dataDir) + FLOOR + Math.floor(copyBytes / 2);
    await new Promise((r) => setTimeout(r, 300)); // StorageGuard re-reads every 250 ms
    const writer = await Client.connect(ctx.url, "writer");
    expect((await writer.transact("before", [{ "block/uid": "before" }])).type).toBe("ack");

    const backup = await post(ctx.port, AdminPath.backup);
    await new Promise((r) => setTimeout(r, 300));
    const after = await writer.transact("after", [{ "block/uid": "after" }]);
    await writer.close();
    const free = capacity - du(ctx.dataDir);
    expect(backup).toMatchObject({ status: 503, json: { error: "backup_failed", message: expect.stringMatching(/below SYNC_MIN_FREE_SPACE/) } });
    // Expected: the backup is refused (like an upload: 507 insufficient_storage) and writes go on.
    expect({ backupStatus: backup.status === 200 ? 200 : "refused", freeAboveFloor: free >= FLOOR, afterBackup: after.type === "ack" ? "ack" : after.code }).toEqual({
      backupStatus: "refused",
      freeAboveFloor: true,
      afterBackup: "ack",
    });
  } finally {
    spy.mockRestore();
    await ctx.server.stop();
  }
});
