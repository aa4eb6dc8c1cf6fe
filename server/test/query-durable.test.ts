/**
 * A query worker that starts while a written group still waits for its fsync must not
 * answer from it: a crash could still take that transaction back, and nobody has been
 * acked or sent it. The worker loads the log up to the durable t only, and gets the
 * rest as commits once durable. (The workers run from the build: dist/.../worker.js.)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SCHEMA } from "../src/datalog/schema";
import { QueryPool, type QueryOutcome } from "../src/query/pool";
import { prepareQuery } from "../src/query/validate";
import { HeldSyncStore } from "./held-sync-store";
import { SyncEngine } from "../src/sync/engine";


const tick = () => new Promise((resolve) => setImmediate(resolve));
const FIND = '[:find ?s :where [?b "block/uid" "q1"] [?b "block/string" ?s]]';

test("a worker started during an fsync answers from durable transactions only, then sees the group once durable", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "query-durable-"));
  const dbFile = path.join(dir, "sync.db");
  const store = new HeldSyncStore(dbFile);
  const engine = SyncEngine.open(store, { schema: SCHEMA, maxTxDatoms: 1000, snapshotEvery: 1_000_000, logRetain: 1000, logger: pino({ level: "silent" }) });
  const pool = new QueryPool({ dbFile, durableT: () => engine.t, size: 1, timeoutMs: 10_000, memoryBytes: 64 * 1024 ** 2, limits: { maxRows: 100, maxBytes: 1 << 20 }, logger: pino({ level: "silent" }) });
  engine.onCommit((entries) => pool.commit(entries));
  const ask = () => new Promise<QueryOutcome>((resolve) => pool.run(prepareQuery(FIND, []), resolve));
  try {
    const acked: unknown[] = [];
    engine.submit("alice", "q1", [{ "block/uid": "q1", "block/string": "not yet durable" }], (r) => acked.push(r));
    await tick();
    expect(store.held).toHaveLength(1); // in the WAL, its fsync held
    expect(acked).toEqual([]);
    // The worker starts now (the pool spawns on first use) and reads the db file itself.
    expect(await ask()).toEqual({ ok: true, json: "[]" });

    store.release();
    for (let i = 0; i < 200 && acked.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(acked).toHaveLength(1);
    expect(await ask()).toEqual({ ok: true, json: '[["not yet durable"]]' });
  } finally {
    await pool.stop();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
