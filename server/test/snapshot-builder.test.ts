import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { datascriptSchema, SCHEMA } from "../src/datalog/schema";
import { SqliteStore } from "../src/storage/sqlite-store";
import type { LogEntry } from "../src/storage/store";
import { SnapshotBuilder, WORKER_NICE } from "../src/sync/snapshot-builder";

const T0 = 536870912;

function entry(t: number, e: number): LogEntry {
  return { t, clientId: `c${t}`, author: "a", txData: [], txHash: "h", datoms: [[e, "block/uid", `u${e}`, t, true]], tempids: {}, time: 0 };
}

test("the snapshot worker loads the log only up to the durable t; later groups reach it as commits", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-builder-"));
  const store = new SqliteStore(path.join(dir, "sync.db"));
  let durable = T0 + 2;
  const builder = new SnapshotBuilder(path.join(dir, "sync.db"), datascriptSchema(SCHEMA), () => durable);
  try {
    // t+3 is in the log but its fsync has not returned: the worker must not show it yet.
    store.appendBatch([entry(T0 + 1, 1), entry(T0 + 2, 2), entry(T0 + 3, 3)]);
    const first = await builder.build(false);
    expect(first.t).toBe(T0 + 2);
    const text = first.frames.map(String).join("");
    expect(text).toContain('"u2"');
    expect(text).not.toContain('"u3"');
    durable = T0 + 3;
    builder.commit([entry(T0 + 3, 3)]);
    const second = await builder.build(false);
    expect(second.t).toBe(T0 + 3);
    expect(second.frames.map(String).join("")).toContain('"u3"');
  } finally {
    await builder.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** Nice values of this process's threads, from /proc (Linux): field 19 of each task's stat. */
function threadNices(): Map<number, number> {
  const nices = new Map<number, number>();
  for (const tid of fs.readdirSync("/proc/self/task")) {
    const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    nices.set(Number(tid), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]));
  }
  return nices;
}

(process.platform === "linux" ? test : test.skip)("the snapshot worker's thread, and only it, runs at WORKER_NICE, below the writer's loop", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-builder-"));
  const store = new SqliteStore(path.join(dir, "sync.db"));
  const builder = new SnapshotBuilder(path.join(dir, "sync.db"), datascriptSchema(SCHEMA));
  try {
    const mine = os.getPriority();
    const before = threadNices();
    store.appendBatch([entry(T0 + 1, 1)]);
    await builder.build(false);
    const lowered = [...threadNices()].filter(([tid, nice]) => !before.has(tid) && nice === WORKER_NICE);
    expect(WORKER_NICE).toBeGreaterThan(mine);
    expect(lowered.length).toBeGreaterThanOrEqual(1);
    expect(os.getPriority()).toBe(mine); // the process's main thread keeps its own
  } finally {
    await builder.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/**
 * One disk-full episode (SQLITE_FULL in the worker's build) ended the worker thread, and
 * the builder kept its failure for good: every later snapshot failed, every join that
 * needed one was closed, and the log was never pruned again until a restart (a
 * durability review). Now a build that fails fails alone, and a worker that died is
 * started again by a later build.
 */
describe("the snapshot worker after a failure", () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-builder-"));
    store = new SqliteStore(path.join(dir, "sync.db"));
    store.appendBatch([entry(T0 + 1, 1), entry(T0 + 2, 2)]);
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("a build whose storing fails fails alone; the next one, on the same worker, succeeds", async () => {
    const builder = new SnapshotBuilder(path.join(dir, "sync.db"), datascriptSchema(SCHEMA));
    try {
      expect((await builder.build(true)).t).toBe(T0 + 2);
      // Storing the chunks fails as it would on a full disk (here: their table is gone).
      store.db.exec("ALTER TABLE snapshot_chunks RENAME TO chunks_away");
      await expect(builder.build(true)).rejects.toThrow(/snapshot build failed: .*snapshot_chunks/);
      store.db.exec("ALTER TABLE chunks_away RENAME TO snapshot_chunks");
      const again = await builder.build(true);
      expect(again.t).toBe(T0 + 2);
      expect(again.chunks).toBeGreaterThan(0);
    } finally {
      await builder.close();
    }
  });

  test("a worker that died is started again by a build after the pause, and has the durable db", async () => {
    const builder = new SnapshotBuilder(path.join(dir, "sync.db"), datascriptSchema(SCHEMA), undefined, 200);
    try {
      expect((await builder.build(false)).t).toBe(T0 + 2);
      const worker = (builder as unknown as { worker: { terminate(): Promise<number> } }).worker;
      await worker.terminate();
      await expect(builder.build(false)).rejects.toThrow(/exited/); // within the pause
      store.appendBatch([entry(T0 + 3, 3)]);
      await new Promise((r) => setTimeout(r, 250));
      const after = await builder.build(false);
      expect(after.t).toBe(T0 + 3);
      expect(after.frames.map(String).join("")).toContain('"u3"');
    } finally {
      await builder.close();
    }
  });
});
