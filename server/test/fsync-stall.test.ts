/**
 * A disk that stops answering (a network volume's outage, a hung device) while the event
 * loop keeps running: every ack waits for the log's fsync, so /readyz must say so (and
 * Caddy's health check then takes the server out) instead of answering "ready" to a
 * server that cannot acknowledge anything. The server is real; only the fsync system
 * call is held, through node:fs, which the store's fsync takes at start.
 */
import fs from "node:fs";
import { ADMIN_TOKEN, adminRequest, Client, startServer, waitFor } from "./helpers";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("an fsync that does not return makes /readyz answer 503 storage_stalled and the metric grow; once it returns, the write is acked and the server is ready again", async () => {
  const realFsync = fs.fsync;
  const realFsyncSync = fs.fsyncSync;
  let disk: "fast" | "stalled" = "fast";
  const held: Array<() => void> = [];
  // Inline: one fsync of 25 ms (at least LEAVE_INLINE_AT_MS) sends the next ones to the pool.
  const syncSpy = jest.spyOn(fs, "fsyncSync").mockImplementation((fd) => {
    if (disk === "stalled") for (const until = Date.now() + 25; Date.now() < until; );
    realFsyncSync(fd);
  });
  // On the pool: held until the test lets the disk answer.
  const asyncSpy = jest.spyOn(fs, "fsync").mockImplementation(((fd: number, done: (err: NodeJS.ErrnoException | null) => void) => {
    if (disk === "stalled") held.push(() => realFsync(fd, done));
    else realFsync(fd, done);
  }) as typeof fs.fsync);
  const ctx = await startServer(undefined, { SYNC_FSYNC_STALL: "1500ms", SYNC_ADMIN_TOKEN: ADMIN_TOKEN });
  const adminStatus = async () => (await adminRequest(ctx.port, "GET", "/admin/status")).json();
  const get = async (p: string) => {
    const res = await fetch(`http://127.0.0.1:${ctx.port}${p}`);
    return { status: res.status, text: await res.text() };
  };
  const runningSeconds = async () => Number(/^sync_fsync_running_seconds (\S+)$/m.exec((await get("/metrics")).text)?.[1]);
  try {
    const c = await Client.connect(ctx.url);
    expect(await c.transact("before", [{ "block/uid": "before" }])).toMatchObject({ type: "ack" });
    expect((await get("/readyz")).status).toBe(200);
    expect(await runningSeconds()).toBe(0);

    disk = "stalled";
    // Writes until one waits on a held fsync. An inline fsync (the disk looked fast) takes
    // 25 ms but returns, so its write is acked and the next fsync goes to the pool; a disk
    // that was slow at boot already has its fsyncs there (storage/wal-fsync.ts).
    let heldId = "";
    for (let i = 0; i < 5 && held.length === 0; i++) {
      const id = `write-${i}`;
      c.send({ type: "transact", id, tx: [{ "block/uid": id }] });
      await waitFor(`${id} held or answered`, () => held.length > 0 || c.messages.some((m) => m.id === id), 2000);
      if (held.length > 0) heldId = id;
      else expect(c.messages.find((m) => m.id === id)).toMatchObject({ type: "ack" });
    }
    expect(held).toHaveLength(1);
    // Below SYNC_FSYNC_STALL the server is still ready: a slow fsync is not a stalled one.
    // (1.5 s leaves room for a scheduling or GC pause between the hold and this probe.)
    expect((await get("/readyz")).status).toBe(200);
    await sleep(1600);
    const stalled = await get("/readyz");
    expect(stalled.status).toBe(503);
    expect(stalled.text).toMatch(/^storage_stalled: the log's fsync has not returned for \d+\.\d s \(SYNC_FSYNC_STALL\)/);
    expect(await runningSeconds()).toBeGreaterThanOrEqual(1.5);
    expect(await adminStatus()).toMatchObject({ state: "RUNNING", ready: false, problem: expect.stringMatching(/^the log's fsync has not returned/) });
    expect(c.messages.some((m) => m.id === heldId)).toBe(false); // not acked before it is durable
    // The loop still serves reads: /healthz answers (it is liveness, not readiness).
    expect((await get("/healthz")).status).toBe(200);

    disk = "fast";
    held.splice(0).forEach((release) => release());
    expect(await c.next((m) => m.id === heldId)).toMatchObject({ type: "ack" });
    expect((await get("/readyz")).status).toBe(200);
    expect(await runningSeconds()).toBe(0);
    expect(await adminStatus()).toMatchObject({ ready: true, problem: null });
    await c.close();
  } finally {
    disk = "fast";
    held.splice(0).forEach((release) => release());
    await ctx.server.stop();
    syncSpy.mockRestore();
    asyncSpy.mockRestore();
  }
});

test("SYNC_FSYNC_STALL takes a duration with a unit, at least 100ms", () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadConfig } = require("../src/config") as typeof import("../src/config");
  const base = { SYNC_TOKEN: "test-token-0123456789abcdef" };
  expect(loadConfig(base).fsyncStallMs).toBe(10_000);
  expect(loadConfig({ ...base, SYNC_FSYNC_STALL: "2m" }).fsyncStallMs).toBe(120_000);
  expect(() => loadConfig({ ...base, SYNC_FSYNC_STALL: "10" })).toThrow(/SYNC_FSYNC_STALL.*unit/s);
  expect(() => loadConfig({ ...base, SYNC_FSYNC_STALL: "50ms" })).toThrow(/SYNC_FSYNC_STALL.*at least 100ms/s);
});
