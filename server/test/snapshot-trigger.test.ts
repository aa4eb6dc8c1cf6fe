import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SCHEMA } from "../src/datalog/schema";
import { SqliteStore } from "../src/storage/sqlite-store";
import { SyncEngine } from "../src/sync/engine";

/**
 * A periodic snapshot costs work in proportion to the whole db, so it waits for both
 * SYNC_SNAPSHOT_EVERY transactions and a log a tenth of the db's size: a big db under
 * steady small edits is not re-serialized every few seconds.
 */
test("snapshots wait for SYNC_SNAPSHOT_EVERY transactions and for a tenth of the db's size in logged bytes, also after a reboot", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-trigger-"));
  const store = new SqliteStore(path.join(dir, "sync.db"));
  const open = () => SyncEngine.open(store, { schema: SCHEMA, maxTxDatoms: 5000, snapshotEvery: 100, logRetain: 1_000_000, logger: pino({ level: "silent" }) });
  const submit = (engine: SyncEngine, id: string, tx: unknown[]) =>
    engine.submit("alice", id, tx, (r) => {
      if (!r.ok) throw r.error;
    });
  const snapshotT = () => store.latestSnapshot()?.t ?? 0;
  try {
    let engine = open();
    // 5,000 datoms in 5 transactions: under SYNC_SNAPSHOT_EVERY, so no snapshot yet.
    for (let i = 0; i < 5; i++) submit(engine, `grow${i}`, Array.from({ length: 1000 }, (_, j) => ({ "block/uid": `g${i}.${j}` })));
    await engine.drain();
    expect(snapshotT()).toBe(0);
    // 100 more transactions: SYNC_SNAPSHOT_EVERY is reached with 5,000 datoms logged since boot: a snapshot.
    for (let i = 0; i < 100; i++) submit(engine, `e${i}`, [[":db/add", ["block/uid", "g0.0"], "block/string", `v${i}`]]);
    await engine.drain();
    const first = snapshotT();
    expect(first).toBeGreaterThan(0);
    // 150 edits after it (300 datoms, ~12 KB of log rows, under a tenth of the db's ~195 KB): none,
    // although over SYNC_SNAPSHOT_EVERY.
    for (let i = 0; i < 150; i++) submit(engine, `f${i}`, [[":db/add", ["block/uid", "g0.1"], "block/string", `v${i}`]]);
    await engine.drain();
    expect(snapshotT()).toBe(first);
    // The count of logged datoms survives a reboot (it is the log after the snapshot).
    await engine.close();
    engine = open();
    // 110 more edits (~21 KB since the snapshot, over a tenth of the ~147 KB the snapshot's length
    // gives at boot): the next snapshot.
    for (let i = 0; i < 110; i++) submit(engine, `h${i}`, [[":db/add", ["block/uid", "g0.2"], "block/string", `v${i}`]]);
    await engine.drain();
    expect(snapshotT()).toBeGreaterThan(first);
    await engine.close();
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
