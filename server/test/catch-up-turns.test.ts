import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import type { Connection } from "../src/connection";
import { SCHEMA } from "../src/datalog/schema";
import { SqliteStore } from "../src/storage/sqlite-store";
import { CatchUpPump } from "../src/sync/catch-up";
import { SyncEngine } from "../src/sync/engine";
import { SnapshotCache } from "../src/sync/snapshot-cache";
import { decodeTxsFrame } from "../../protocol/src";

/**
 * A joining client's catch-up reads the log after its t in small batches, one per turn of
 * the event loop: read in one synchronous step, the ~1,300 transactions logged after the
 * cached snapshot held the loop (and every writer's ack) 100-150 ms per joiner at 1M datoms.
 */
describe("catch-up from the log", () => {
  const LOGGED = 2000;
  let dir: string;
  let store: SqliteStore;
  let engine: SyncEngine;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "catch-up-turns-"));
    store = new SqliteStore(path.join(dir, "sync.db"));
    engine = SyncEngine.open(store, { schema: SCHEMA, maxTxDatoms: 1000, snapshotEvery: 1_000_000, logRetain: 1_000_000, logger: pino({ level: "silent" }) });
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A connection that takes every frame at once (its send buffer never fills). */
  function fakeConnection(frames: string[]): Connection {
    const ws = { OPEN: 1, readyState: 1 };
    const sendText = (data: string | Buffer, written?: () => void) => {
      frames.push(data.toString());
      if (written) setImmediate(written);
      return true;
    };
    return { ws, buffered: 0, maxBufferedBytes: 4 * 1024 * 1024, sendText, log: pino({ level: "silent" }), close: () => {} } as unknown as Connection;
  }

  test("reads a long log tail a batch per event-loop turn, and still delivers all of it in order before synced", async () => {
    const t0 = engine.t;
    for (let i = 0; i < LOGGED; i++) engine.submit("alice", `tx-${i}`, [{ "block/uid": `b-${i}`, "block/string": "logged" }], () => {});
    await engine.drain();
    expect(engine.t).toBe(t0 + LOGGED);

    const returned: number[] = [];
    const logAfter = engine.logAfter.bind(engine);
    engine.logAfter = (since, maxBytes) => {
      const entries = logAfter(since, maxBytes);
      returned.push(entries.length);
      return entries;
    };
    const frames: string[] = [];
    let live = false;
    new CatchUpPump(fakeConnection(frames), engine, new SnapshotCache(engine), () => (live = true)).start(t0);

    // The synchronous part of start(): one batch, not the whole tail.
    expect(returned).toHaveLength(1);
    expect(returned[0]).toBeLessThan(LOGGED / 4);
    expect(live).toBe(false);

    for (let turns = 0; !live && turns < 10_000; turns++) await new Promise((r) => setImmediate(r));
    expect(live).toBe(true);
    expect(returned.length).toBeGreaterThan(4);
    const ts = frames
      .map((f) => JSON.parse(f) as { type: string; t?: number })
      .flatMap((m) => (m.type === "txs" ? decodeTxsFrame(m).map((tx) => tx.t) : m.type === "synced" ? [-m.t!] : []));
    expect(ts).toEqual([...Array.from({ length: LOGGED }, (_, i) => t0 + 1 + i), -(t0 + LOGGED)]);
  });
});
