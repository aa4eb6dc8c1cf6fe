import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { TX0 } from "../src/datalog/datascript";
import { SqliteStore } from "../src/storage/sqlite-store";
import type { LogEntry } from "../src/storage/store";
import { POOL_FROM_TRANSACTIONS, WalFsync } from "../src/storage/wal-fsync";

/** A disk whose fsyncs take `ms` of the fake clock; pool fsyncs wait until the test releases them. */
function fakeDisk(initialMs?: number) {
  const disk = { now: 0, ms: 0.2, inlineCalls: 0, pool: [] as Array<(err: NodeJS.ErrnoException | null) => void>, fail: null as Error | null };
  const walFsync = new WalFsync({
    inlineBelowMs: 0.5,
    probeEveryMs: 1000,
    now: () => disk.now,
    fsyncSync: () => {
      disk.inlineCalls++;
      disk.now += disk.ms;
      if (disk.fail) throw disk.fail;
    },
    fsync: (_fd, done) => disk.pool.push(done),
  });
  if (initialMs !== undefined) walFsync.record(initialMs);
  const sync = (transactions?: number) =>
    new Promise<Error | null>((resolve) => {
      let returned = false;
      walFsync.sync(
        3,
        (err) => {
          // Never called back before sync() returns, inline or not: callers keep one order.
          expect(returned).toBe(true);
          resolve(err);
        },
        transactions,
      );
      returned = true;
    });
  return { disk, walFsync, sync };
}

describe("the WAL's fsync: inline while the disk is fast, on the pool while it is slow", () => {
  test("a fast disk: every fsync runs inline and is timed", async () => {
    const { disk, walFsync, sync } = fakeDisk(0.3);
    for (let i = 0; i < 5; i++) expect(await sync()).toBeNull();
    expect(walFsync.counts).toEqual({ inline: 5, pool: 0 });
    expect(disk.inlineCalls).toBe(5);
    expect(walFsync.estimateMs).toBeCloseTo(0.2, 5);
  });

  test("a group of POOL_FROM_TRANSACTIONS or more goes to the pool on a fast disk; smaller ones stay inline", async () => {
    const { disk, walFsync, sync } = fakeDisk(0.2);
    expect(await sync(POOL_FROM_TRANSACTIONS - 1)).toBeNull();
    expect(walFsync.counts).toEqual({ inline: 1, pool: 0 });
    const big = sync(POOL_FROM_TRANSACTIONS);
    expect(walFsync.counts).toEqual({ inline: 1, pool: 1 });
    disk.pool.shift()!(null);
    expect(await big).toBeNull();
    // The disk's estimate is the inline fsyncs' alone: the next small group is inline again.
    expect(walFsync.estimateMs).toBeCloseTo(0.2, 5);
    await sync(1);
    expect(walFsync.counts).toEqual({ inline: 2, pool: 1 });
  });

  test("the store hands each sync the number of transactions written since the last one", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wal-fsync-store-"));
    const store = new SqliteStore(path.join(dir, "sync.db"));
    try {
      const entry = (t: number): LogEntry => ({ t, clientId: `c${t}`, author: "a", txData: [], txHash: "h", datoms: [], tempids: {}, time: 0 });
      const handed = jest.spyOn(store.walFsync, "sync");
      let t = TX0 + 1;
      const write = (n: number) => store.writeBatch(Array.from({ length: n }, () => entry(t++)));
      const sync = () => new Promise<Error | null>((resolve) => store.sync(resolve));
      // Two groups written while no fsync ran: one sync covers both.
      write(10);
      write(10);
      expect(await sync()).toBeNull();
      // A small group after it: counted from zero again.
      write(3);
      expect(await sync()).toBeNull();
      // Nothing written since: nothing to make durable (a drain's sync).
      expect(await sync()).toBeNull();
      // appendBatch fsyncs on its own: what it wrote is not counted again.
      store.appendBatch(Array.from({ length: 20 }, () => entry(t++)));
      write(2);
      expect(await sync()).toBeNull();
      expect(handed.mock.calls.map((call) => call[2])).toEqual([20, 3, 0, 2]);
    } finally {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("one slow fsync changes nothing; a run of them moves it to the pool", async () => {
    const { disk, walFsync, sync } = fakeDisk(0.2);
    for (let i = 0; i < 4; i++) await sync();
    disk.ms = 5; // slow, not a stall
    await sync(); // one slow among five: the median is still 0.2 ms
    expect(walFsync.inline).toBe(true);
    await sync();
    expect(walFsync.inline).toBe(true);
    await sync(); // three of the last five were slow
    expect(walFsync.inline).toBe(false);
    expect(walFsync.estimateMs).toBeCloseTo(5, 5);
    // On the pool now: the loop is not blocked; the fsync completes when the disk says so.
    const pending = sync();
    expect(walFsync.counts).toEqual({ inline: 7, pool: 1 });
    disk.pool.shift()!(null);
    expect(await pending).toBeNull();
  });

  test("one stall moves it to the pool at once; coming back takes three fast probes", async () => {
    const { disk, walFsync, sync } = fakeDisk(0.2);
    for (let i = 0; i < 4; i++) await sync();
    disk.ms = 500; // a network volume's hiccup
    await sync();
    expect(walFsync.inline).toBe(false);
    disk.ms = 0.2;
    const probes: boolean[] = [];
    for (let second = 0; second < 3; second++) {
      disk.now += 1001;
      await sync();
      probes.push(walFsync.inline);
    }
    expect(probes).toEqual([false, false, true]);
  });

  test("no inline probe while the pool's last round trip says the disk is slow", async () => {
    const { disk, walFsync, sync } = fakeDisk();
    for (let i = 0; i < 5; i++) walFsync.record(50);
    // A pool fsync that took 300 ms (round trip, loop included).
    const slow = sync();
    disk.now += 300;
    disk.pool.shift()!(null);
    await slow;
    disk.now += 5000;
    expect(walFsync.inline).toBe(false); // seconds later, still no probe on the loop
    const next = sync();
    expect(walFsync.counts).toEqual({ inline: 0, pool: 2 });
    // This one comes back in 3 ms: the next second's fsync may be timed inline again.
    disk.now += 3;
    disk.pool.shift()!(null);
    await next;
    expect(walFsync.inline).toBe(true);
  });

  test("on the pool, one fsync a second runs inline; three fast ones of five bring it back", async () => {
    const { disk, walFsync, sync } = fakeDisk();
    for (let i = 0; i < 5; i++) walFsync.record(20);
    expect(walFsync.inline).toBe(false);
    disk.ms = 0.1;
    const probes: boolean[] = [];
    for (let second = 0; second < 3; second++) {
      // Within the second, fsyncs go to the pool...
      const onPool = sync();
      expect(disk.pool).toHaveLength(1);
      disk.pool.shift()!(null);
      await onPool;
      // ...and a second after the last inline one, one runs inline and is timed.
      disk.now += 1001;
      expect(walFsync.inline).toBe(true);
      await sync();
      probes.push(walFsync.inline);
    }
    expect(probes).toEqual([false, false, true]);
    expect(walFsync.counts).toEqual({ inline: 3, pool: 3 });
  });

  test("a slow boot fsync starts it on the pool, with its first probe a second later", async () => {
    const { disk, walFsync, sync } = fakeDisk();
    walFsync.record(30); // what the store measured at boot: a stall, it counts five times
    expect(walFsync.estimateMs).toBe(30);
    const first = sync();
    expect(walFsync.counts).toEqual({ inline: 0, pool: 1 });
    disk.pool.shift()!(null);
    await first;
    disk.now += 1001;
    await sync();
    expect(walFsync.counts).toEqual({ inline: 1, pool: 1 });
    // Five times boot's 30 ms and one fast probe: still slow; three fast probes decide.
    expect(walFsync.inline).toBe(false);
    disk.now += 1001;
    await sync();
    expect(walFsync.inline).toBe(false);
    disk.now += 1001;
    await sync();
    expect(walFsync.inline).toBe(true);
  });

  test("a failed fsync reaches the caller, inline or on the pool", async () => {
    const { disk, walFsync, sync } = fakeDisk(0.2);
    disk.fail = Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" });
    const inlineErr = await sync();
    expect(inlineErr?.message).toMatch(/EIO/);
    // A failed fsync is not timed: it says nothing about the disk's speed.
    expect(walFsync.estimateMs).toBeCloseTo(0.2, 5);
    walFsync.record(50);
    walFsync.record(50);
    const onPool = sync();
    disk.pool.shift()!(Object.assign(new Error("ENOSPC: no space left on device, fsync"), { code: "ENOSPC" }));
    expect((await onPool)?.message).toMatch(/ENOSPC/);
  });

  test("with the real fs: both ways fsync a file that was written", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wal-fsync-"));
    const fd = fs.openSync(path.join(dir, "wal"), "w+");
    try {
      const inline = new WalFsync();
      inline.record(0);
      const pool = new WalFsync({ probeEveryMs: 1e9 });
      pool.record(1e9);
      for (const walFsync of [inline, pool]) {
        fs.writeSync(fd, Buffer.from("frame"));
        await expect(new Promise((resolve) => walFsync.sync(fd, resolve))).resolves.toBeNull();
      }
      expect(inline.counts).toEqual({ inline: 1, pool: 0 });
      expect(pool.counts).toEqual({ inline: 0, pool: 1 });
      // An fd that is not open fails both ways with the system's error (a number far above
      // any open-files limit: a closed fd's number could be reused meanwhile).
      for (const walFsync of [inline, pool]) {
        const err = await new Promise<Error | null>((resolve) => walFsync.sync(1 << 30, resolve));
        expect((err as NodeJS.ErrnoException | null)?.code).toBe("EBADF");
      }
      // fs.fsync throws, rather than calling back, for an fd that is not a number: still a callback, later.
      let returned = false;
      const thrown = new Promise<Error | null>((resolve) =>
        pool.sync(Number.NaN, (err) => {
          expect(returned).toBe(true);
          resolve(err);
        }),
      );
      returned = true;
      expect((await thrown as NodeJS.ErrnoException | null)?.code).toBe("ERR_OUT_OF_RANGE");
    } finally {
      fs.closeSync(fd);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
