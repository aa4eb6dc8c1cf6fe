import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SCHEMA } from "../src/datalog/schema";
import { HeldSyncStore } from "./held-sync-store";
import { waitFor } from "./helpers";
import { SyncEngine, type SubmitResult } from "../src/sync/engine";


const tick = () => new Promise((resolve) => setImmediate(resolve));

describe("acks wait for the fsync", () => {
  let dir: string;
  let store: HeldSyncStore;
  let engine: SyncEngine;
  let fatal: Error | null;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "engine-durability-"));
    store = new HeldSyncStore(path.join(dir, "sync.db"));
    fatal = null;
    engine = SyncEngine.open(store, { schema: SCHEMA, maxTxDatoms: 1000, snapshotEvery: 1_000_000, logRetain: 1000, logger: pino({ level: "silent" }), onFatal: (err) => (fatal = err) });
  });
  afterEach(() => {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const submit = (id: string, value: string) => {
    const results: SubmitResult[] = [];
    engine.submit("alice", id, [{ "block/uid": id, "block/string": value }], (r) => results.push(r));
    return results;
  };

  test("a written group is neither acked, broadcast nor readable for catch-up until its fsync returns", async () => {
    const broadcast: number[] = [];
    engine.onCommit((entries) => broadcast.push(...entries.map((e) => e.t)));
    const t0 = engine.t;
    const a = submit("a", "one");
    await tick();
    expect(store.held).toHaveLength(1); // written, fsync in flight
    expect(a).toEqual([]);
    expect(broadcast).toEqual([]);
    expect(engine.t).toBe(t0);
    expect(engine.logAfter(t0, Infinity)).toEqual([]);
    // A resend meanwhile must not be answered from the (not yet durable) log.
    const resend = submit("a", "one");
    expect(resend).toEqual([]);
    store.release();
    // The released fsync is real, inline or on libuv's pool (storage/wal-fsync.ts): wait for it, not for a guess at the disk.
    await waitFor("the ack", () => a.length > 0);
    expect(a).toEqual([{ ok: true, ack: expect.objectContaining({ t: t0 + 1 }) }]);
    expect(resend).toEqual(a);
    expect(broadcast).toEqual([t0 + 1]);
    expect(engine.logAfter(t0, Infinity).map((e) => e.t)).toEqual([t0 + 1]);
  });

  test("groups written during an fsync are covered by the next one, acked in order", async () => {
    const acks: string[] = [];
    const t0 = engine.t;
    engine.submit("alice", "a", [{ "block/uid": "a" }], () => acks.push("a"));
    await tick();
    engine.submit("alice", "b", [{ "block/uid": "b" }], () => acks.push("b"));
    await tick();
    engine.submit("alice", "c", [{ "block/uid": "c" }], () => acks.push("c"));
    await tick();
    expect(store.held).toHaveLength(1); // b and c wait for the next fsync
    store.release();
    await waitFor("a's ack and the next fsync", () => acks.length > 0 && store.held.length > 0);
    expect(acks).toEqual(["a"]);
    expect(store.held).toHaveLength(1);
    store.release();
    await waitFor("b's and c's acks", () => acks.length >= 3);
    expect(acks).toEqual(["a", "b", "c"]);
    expect(engine.t).toBe(t0 + 3);
  });

  test("drain() resolves once what was written is durable, and also when the write fails", async () => {
    submit("a", "one");
    let drained = false;
    const draining = engine.drain().then(() => (drained = true));
    await tick();
    expect(drained).toBe(false);
    store.release();
    await draining;
    expect(engine.logAfter(0, Infinity)).toHaveLength(1);
    // A write that throws leaves nothing to wait for: drain() must not hang.
    jest.spyOn(store, "writeBatch").mockImplementationOnce(() => {
      throw new Error("SQLITE_FULL");
    });
    const rejected = submit("b", "two");
    await engine.drain();
    expect(rejected).toEqual([{ ok: false, error: expect.objectContaining({ code: "storage_error" }) }]);
  });

  test("a failed fsync acks nothing and is fatal; later submits are refused", async () => {
    const a = submit("a", "one");
    await tick();
    store.release(new Error("EIO"));
    await tick();
    expect(a).toEqual([]);
    expect(fatal?.message).toBe("EIO");
    const b = submit("b", "two");
    expect(b).toEqual([{ ok: false, error: expect.objectContaining({ code: "storage_error" }) }]);
  });
});
