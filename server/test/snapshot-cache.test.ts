import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SCHEMA } from "../src/datalog/schema";
import { SqliteStore } from "../src/storage/sqlite-store";
import { SyncEngine } from "../src/sync/engine";
import { SnapshotCache } from "../src/sync/snapshot-cache";

/**
 * The cache decides by the db's size whether a snapshot is encoded right here or on the
 * builder's worker (which then replays every commit a second time). The size is the db's,
 * not the log's: a few blocks edited thousands of times stay a small db.
 */
describe("snapshot cache: the size of the db, not of the log", () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-cache-"));
    store = new SqliteStore(path.join(dir, "sync.db"));
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const open = () => SyncEngine.open(store, { schema: SCHEMA, maxTxDatoms: 5000, snapshotEvery: 1_000_000, logRetain: 1_000_000, logger: pino({ level: "silent" }) });
  const submit = (engine: SyncEngine, id: string, tx: unknown[]) =>
    engine.submit("alice", id, tx, (r) => {
      if (!r.ok) throw r.error;
    });

  test("12,000 edits of one block (24,000 logged datoms) leave a small db; 21,000 new blocks make it large, also after a reboot", async () => {
    let engine = open();
    let cache = new SnapshotCache(engine);
    engine.onCommit((entries) => cache.committed(entries));
    submit(engine, "create", [{ "block/uid": "b", "block/string": "v0" }]);
    await engine.drain();
    for (let i = 1; i <= 12_000; i++) {
      submit(engine, `e${i}`, [[":db/add", ["block/uid", "b"], "block/string", `v${i}`]]);
      if (i % 500 === 0) await engine.drain();
    }
    await engine.drain();
    // Each edit logged a retraction and an addition: 24,000 datoms, past the 20,000 mark.
    expect([...store.readAfter(0)].reduce((n, e) => n + e.datoms.length, 0)).toBeGreaterThan(24_000);
    expect(cache.large).toBe(false);
    expect(open().bootDatoms).toBeLessThan(10);

    for (let i = 0; i < 21; i++) {
      submit(engine, `grow${i}`, Array.from({ length: 1000 }, (_, j) => ({ "block/uid": `g${i}.${j}` })));
      await engine.drain();
    }
    expect(cache.large).toBe(true);
    await engine.close();
    engine = open();
    cache = new SnapshotCache(engine);
    expect(engine.bootDatoms).toBeGreaterThan(20_000);
    expect(cache.large).toBe(true);
    await engine.close();
  });

  test("a few datoms holding megabytes are a large db (by bytes), after a snapshot and a reboot too", async () => {
    let engine = open();
    let cache = new SnapshotCache(engine);
    engine.onCommit((entries) => cache.committed(entries));
    // Ten blocks, one 250,000-character string each: 2.5 MB in 20 datoms.
    for (let i = 0; i < 10; i++) submit(engine, `big${i}`, [{ "block/uid": `big${i}`, "block/string": String(i).repeat(250_000) }]);
    await engine.drain();
    expect(engine.approxDatoms).toBeLessThan(30);
    expect(engine.approxBytes).toBeGreaterThan(2_500_000);
    expect(cache.large).toBe(true);
    // Replacing the values with short ones makes it small again.
    for (let i = 0; i < 10; i++) submit(engine, `small${i}`, [[":db/add", ["block/uid", `big${i}`], "block/string", "x"]]);
    await engine.drain();
    expect(engine.approxBytes).toBeLessThan(10_000);
    expect(cache.large).toBe(false);
    for (let i = 0; i < 10; i++) submit(engine, `again${i}`, [[":db/add", ["block/uid", `big${i}`], "block/string", String(i).repeat(250_000)]]);
    await engine.drain();
    engine.snapshot();
    await engine.close();
    engine = open();
    cache = new SnapshotCache(engine);
    expect(engine.approxBytes).toBeGreaterThan(2_500_000);
    expect(cache.large).toBe(true);
    await engine.close();
  });

  test("with nobody joining, the cache keeps a bounded record of the commits after its frames", async () => {
    const engine = open();
    const cache = new SnapshotCache(engine);
    engine.onCommit((entries) => cache.committed(entries));
    submit(engine, "create", [{ "block/uid": "b", "block/string": "v0" }]);
    await engine.drain();
    expect(cache.get()).toMatchObject({ t: engine.t });
    let most = 0;
    for (let i = 1; i <= 15_000; i++) {
      submit(engine, `e${i}`, [[":db/add", ["block/uid", "b"], "block/string", `v${i}`]]);
      if (i % 500 === 0) {
        await engine.drain();
        most = Math.max(most, cache.lagLength);
      }
    }
    await engine.drain();
    // 15,000 commits: the record stopped once the frames were stale (20,000 datoms behind), and
    // a joiner now gets fresh frames.
    expect(most).toBeLessThanOrEqual(10_001);
    expect(cache.lagLength).toBeLessThan(10_001);
    expect(cache.get()).toMatchObject({ t: engine.t });
    await engine.close();
  });
});
