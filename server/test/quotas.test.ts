import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Client, startServer, tmpDir } from "./helpers";
import { sleep } from "./attack-helpers";

/** Issue 9 item 9, "Quotas", and the data dirs' modes. */
describe("per-connection byte budget", () => {
  test("past SYNC_BYTES_PER_MINUTE the socket is closed 1008 with byte_budget; others are unaffected", async () => {
    const ctx = await startServer(undefined, { SYNC_BYTES_PER_MINUTE: "64KiB", SYNC_MAX_FRAME_BYTES: "16KiB" });
    try {
      const other = await Client.connect(ctx.url, "other");
      const hog = await Client.connect(ctx.url, "hog");
      for (let i = 0; i < 8; i++) hog.send({ type: "transact", id: `big-${i}`, tx: [{ "block/uid": `big-${i}`, "block/string": "z".repeat(15_000) }] });
      expect((await hog.closed).code).toBe(1008);
      expect(hog.messages.find((m) => m.type === "error")).toMatchObject({ code: "byte_budget" });
      expect(await other.transact("small", [{ "block/uid": "small" }])).toMatchObject({ type: "ack" });
      await other.close();
    } finally {
      await ctx.server.stop();
    }
  });
});

describe("SYNC_MAX_DB_BYTES", () => {
  test("at the limit writes are rejected storage_full and /readyz says why", async () => {
    const ctx = await startServer(undefined, { SYNC_MAX_DB_BYTES: "600KiB", SYNC_SNAPSHOT_EVERY: "1000000" });
    try {
      const c = await Client.connect(ctx.url);
      let reply = { type: "ack" } as Record<string, unknown>;
      for (let i = 0; i < 40 && reply.type === "ack"; i++) {
        reply = await c.transact(`fill-${i}`, [{ "block/uid": `fill-${i}`, "block/string": "q".repeat(100_000) }]);
        await sleep(300);
      }
      expect(reply).toMatchObject({ type: "rejected", code: "storage_full" });
      expect(reply.message).toMatch(/SYNC_MAX_DB_BYTES/);
      const ready = await fetch(`http://127.0.0.1:${ctx.port}/readyz`);
      expect(ready.status).toBe(503);
      expect(await ready.text()).toMatch(/^storage_full: .*SYNC_MAX_DB_BYTES/);
      await c.close();
    } finally {
      await ctx.server.stop();
    }
  });
});

describe("free-space floor on a real small filesystem (tmpfs)", () => {
  const mountPoint = tmpDir("sync-tmpfs-");
  let mounted = false;
  beforeAll(() => {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0755", "tmpfs", mountPoint]);
    mounted = true;
  });
  afterAll(() => {
    if (mounted) execFileSync("umount", ["-l", mountPoint]);
  });

  test("below SYNC_MIN_FREE_SPACE writes get storage_full before SQLite fails; /readyz says why; freeing space recovers", async () => {
    const dataDir = path.join(mountPoint, "data");
    const ctx = await startServer(dataDir, { SYNC_MIN_FREE_SPACE: "2MiB" });
    const ready = async () => {
      const res = await fetch(`http://127.0.0.1:${ctx.port}/readyz`);
      return { status: res.status, text: await res.text() };
    };
    try {
      const c = await Client.connect(ctx.url);
      expect(await c.transact("before", [{ "block/uid": "before" }])).toMatchObject({ type: "ack" });
      // Leave 1 MiB free: enough for SQLite to still succeed, below the 2 MiB floor.
      const stats = fs.statfsSync(mountPoint);
      const filler = path.join(mountPoint, "filler");
      fs.writeFileSync(filler, Buffer.alloc(stats.bavail * stats.bsize - 1024 * 1024));
      await sleep(400);
      const t = ctx.server.sync.t;
      const refused = await c.transact("while-full", [{ "block/uid": "while-full" }]);
      expect(refused).toMatchObject({ type: "rejected", code: "storage_full" });
      expect(refused.message).toMatch(/SYNC_MIN_FREE_SPACE/);
      expect(ctx.server.sync.t).toBe(t);
      // A resend of an already committed transaction is still acked.
      expect(await c.transact("before", [{ "block/uid": "before" }])).toMatchObject({ type: "ack" });
      const full = await ready();
      expect(full.status).toBe(503);
      expect(full.text).toMatch(/^storage_full: the data volume has .* free, below SYNC_MIN_FREE_SPACE/);
      expect(await ctx.server.backup()).toBeNull();
      fs.rmSync(filler);
      await sleep(400);
      expect(await c.transact("after", [{ "block/uid": "after" }])).toMatchObject({ type: "ack" });
      expect((await ready()).status).toBe(200);
      await c.close();
    } finally {
      await ctx.server.stop();
    }
  });
});

describe("data and backup directories", () => {
  test("are created 0700, and an existing 0755 data dir is tightened", async () => {
    const parent = tmpDir();
    const dataDir = path.join(parent, "fresh", "data");
    const ctx = await startServer(dataDir);
    try {
      const file = await ctx.server.backup();
      expect(file).not.toBeNull();
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(fs.statSync(path.dirname(file!)).mode & 0o777).toBe(0o700);
    } finally {
      await ctx.server.stop();
    }
    const loose = path.join(parent, "loose");
    fs.mkdirSync(loose, { mode: 0o755 });
    fs.chmodSync(loose, 0o755);
    const again = await startServer(loose);
    await again.server.stop();
    expect(fs.statSync(loose).mode & 0o777).toBe(0o700);
  });
});

