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
