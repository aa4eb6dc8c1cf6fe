import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { type Db, TX0, allDatoms, deserialize, emptyDb, entityExists, identityExists, retractionSize, serialize, transact, type WireDatom, withMaxTx } from "../src/datalog/datascript";
import { SCHEMA, datascriptSchema } from "../src/datalog/schema";
import { txFailed } from "../src/datalog/tx-errors";
import { orderUpserts } from "../src/datalog/upserts";
import { validateTx } from "../src/datalog/validate";
import { plainEdits } from "../src/datalog/plain-edits";
import { SqliteStore } from "../src/storage/sqlite-store";
import type { LogEntry } from "../src/storage/store";
import { SyncEngine, type SubmitResult } from "../src/sync/engine";
import { prng } from "./helpers";
import { MAX_LAG, MAX_LAG_BYTES, MAX_LAG_DATOMS, MAX_SLOTS, WriterHead } from "../src/sync/writer-head";

/**
 * The writer applies plain edits without datascript (sync/writer-head.ts). Datascript is
 * the reference: every transaction of a random sequence (plain edits mixed with tempids,
 * upserts, refs, retractions, bad ids, failed log writes) must give the engine the very
 * datoms, t, tempids and errors that datascript alone gives, and the committed db, read
 * at any point, snapshotted and reopened, the very datoms with the same tx.
 */

const MAX_TX_DATOMS = 40;

/** The engine's rules before writer-head.ts: every transaction through datascript. */
function reference(db: Db, tx: unknown[]): { db: Db; t: number; datoms: WireDatom[]; tempids: Record<string, number> } | { code: string } {
  try {
    const named = validateTx(tx, SCHEMA, MAX_TX_DATOMS, (e) => entityExists(db, e), (e, a) => retractionSize(db, e, a, ["block/children", "block/refs"]));
    const ordered = orderUpserts(tx, SCHEMA, (a, v) => identityExists(db, a, v));
    if ((ordered.reruns + 1) * named > MAX_TX_DATOMS) return { code: "tx_too_large" };
    const report = transact(db, ordered.tx);
    if (report.datoms.length > MAX_TX_DATOMS) return { code: "tx_too_large" };
    return report;
  } catch (err) {
    return { code: txFailed(err).code };
  }
}

class FailingStore extends SqliteStore {
  failNext = false;
  override writeBatch(entries: readonly LogEntry[]): void {
    if (this.failNext) {
      this.failNext = false;
      throw new Error("disk full (test)");
    }
    super.writeBatch(entries);
  }
}

function generator(seed: number) {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const eids: number[] = [];
  const uids: string[] = [];
  let fresh = 0;
  const strings = ["", "a", "b", "c", "long ".repeat(20)];
  const plainValue = (a: string): unknown => (a === "block/open" ? rand() < 0.5 : a === "block/string" || a === "edit/auth" ? pick(strings) : pick([0, 1, 2.5, 7]));
  const plainAttrs = ["block/string", "block/string", "block/order", "block/open", "edit/time", "edit/auth"];
  // An id or a lookup ref, now and then one that names nothing.
  const entity = (): unknown => {
    const r = rand();
    if (r < 0.05 || eids.length === 0) return rand() < 0.5 ? 999_999 : ["block/uid", "nope"];
    if (r < 0.5) return pick(eids);
    return ["block/uid", pick(uids)];
  };
  const plainItem = (): unknown => {
    if (rand() < 0.7) {
      const a = pick(plainAttrs);
      return [":db/add", entity(), a, plainValue(a)];
    }
    const item: Record<string, unknown> = { ":db/id": entity() };
    const n = 1 + Math.floor(rand() * 3);
    for (let i = 0; i < n; i++) {
      const a = pick(plainAttrs);
      item[a] = plainValue(a);
    }
    return item;
  };
  const otherItem = (): unknown => {
    const r = rand();
    if (r < 0.3) {
      const uid = `u${fresh++}`;
      return { ":db/id": `t${fresh}`, "block/uid": uid, "block/string": pick(strings), "block/order": fresh };
    }
    if (r < 0.45 && uids.length > 0) return { "block/uid": pick(uids), "block/string": pick(strings) };
    if (r < 0.6) return [":db/retract", entity(), pick(plainAttrs)];
    if (r < 0.7) return [":db/retract", entity(), "block/string", pick(strings)];
    if (r < 0.78) return [":db/retractEntity", entity()];
    if (r < 0.9) return [":db/add", entity(), "block/children", entity()];
    return [":db/add", entity(), "block/uid", `u${fresh++}`];
  };
  return {
    rand,
    /** Mostly plain edits, as an editor sends them; a fifth of transactions something else. */
    tx(): unknown[] {
      const n = 1 + Math.floor(rand() * (rand() < 0.9 ? 2 : 25));
      const complex = rand() < 0.2;
      const items: unknown[] = [];
      for (let i = 0; i < n; i++) items.push(complex && (i === 0 || rand() < 0.5) ? otherItem() : plainItem());
      return items;
    },
    learn(report: { tempids: Record<string, number>; datoms: WireDatom[] }) {
      for (const [e, a, v, , added] of report.datoms) {
        if (added && a === "block/uid") {
          if (!eids.includes(e)) eids.push(e);
          uids.push(v as string);
        }
      }
    },
  };
}

async function runSequence(seed: number, steps: number, dir: string) {
  const file = path.join(dir, `sync-${seed}.db`);
  const store = new FailingStore(file);
  const options = { schema: SCHEMA, maxTxDatoms: MAX_TX_DATOMS, snapshotEvery: 97, logRetain: 50, logger: pino({ level: "silent" }) };
  const engine = SyncEngine.open(store, options);
  const logged = new Map<number, LogEntry>();
  engine.onCommit((entries) => entries.forEach((e) => logged.set(e.t, e)));
  const gen = generator(seed);
  let ref: Db = emptyDb(datascriptSchema(SCHEMA));
  let plain = 0;
  let failedGroups = 0;
  let step = 0;
  while (step < steps) {
    // One group: a few transactions submitted in one turn; now and then its log write fails.
    const before = ref;
    const fail = gen.rand() < 0.04;
    const expected: Array<ReturnType<typeof reference>> = [];
    const results: SubmitResult[][] = [];
    const size = 1 + Math.floor(gen.rand() * 6);
    for (let i = 0; i < size && step < steps; i++, step++) {
      const tx = gen.tx();
      if (plainEdits(tx, SCHEMA)) plain++;
      const want = reference(ref, tx);
      if ("db" in want) ref = want.db;
      expected.push(want);
      const got: SubmitResult[] = [];
      results.push(got);
      // A copy parsed from JSON, as a frame's tx is (structuredClone's arrays come from
      // another realm under jest, and datascript reads them as maps).
      engine.submit("alice", `${seed}-${step}`, JSON.parse(JSON.stringify(tx)) as unknown[], (r) => got.push(r));
    }
    store.failNext = fail;
    await engine.drain();
    if (fail) {
      failedGroups++;
      ref = before;
      for (const got of results) expect(got).toEqual([expect.objectContaining({ ok: false })]);
      continue;
    }
    expected.forEach((want, i) => {
      const got = results[i]!;
      expect(got).toHaveLength(1);
      if ("code" in want) {
        expect(got[0]).toEqual({ ok: false, error: expect.objectContaining({ code: want.code }) });
        return;
      }
      expect(got[0]).toEqual({ ok: true, ack: { t: want.t, tempids: want.tempids } });
      expect(logged.get(want.t)!.datoms).toEqual(want.datoms);
      gen.learn(want);
    });
    // The committed db read now and then (the lag stays unfolded in the head).
    if (gen.rand() < 0.1) expect(allDatoms(engine.db)).toEqual(allDatoms(ref));
  }
  expect(allDatoms(engine.db)).toEqual(allDatoms(ref));
  await engine.close();
  store.close();
  // Reopened: the latest snapshot (written from the folded db) and the log after it.
  const reopenedStore = new SqliteStore(file);
  const reopened = SyncEngine.open(reopenedStore, options);
  expect(reopened.t).toBe(engine.t);
  expect(allDatoms(reopened.db)).toEqual(allDatoms(ref));
  await reopened.close();
  reopenedStore.close();
  return { plain, failedGroups };
}

describe("plain edits without datascript give datascript's results", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "writer-head-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each([1, 2, 3, 4, 5, 6])("random sequence %i: the same datoms, t, tempids and errors, and the same db read, snapshotted and reopened", async (seed) => {
    const { plain, failedGroups } = await runSequence(seed, 600, dir);
    // The sequence must exercise both paths and the rollback, or it proves nothing.
    expect(plain).toBeGreaterThan(300);
    expect(failedGroups).toBeGreaterThan(0);
  });

  test("a failed log write forgets the entities its group created: a lookup ref to one names nothing after", async () => {
    const store = new FailingStore(path.join(dir, "rollback.db"));
    const engine = SyncEngine.open(store, { schema: SCHEMA, maxTxDatoms: 100, snapshotEvery: 1_000_000, logRetain: 10, logger: pino({ level: "silent" }) });
    const results: SubmitResult[] = [];
    const submit = (id: string, tx: unknown[]) => engine.submit("alice", id, tx, (r) => results.push(r));
    submit("kept", [{ "block/uid": "kept", "block/string": "" }]);
    await engine.drain();
    // One group: a new block, then plain edits through its lookup ref; its write fails.
    submit("new", [{ "block/uid": "gone", "block/string": "" }]);
    submit("edit-1", [[":db/add", ["block/uid", "gone"], "block/string", "x"]]);
    submit("edit-2", [[":db/add", ["block/uid", "kept"], "block/string", "y"]]);
    store.failNext = true;
    await engine.drain();
    expect(results.slice(1).map((r) => r.ok)).toEqual([false, false, false]);
    submit("edit-3", [[":db/add", ["block/uid", "gone"], "block/string", "z"]]);
    submit("edit-4", [[":db/add", ["block/uid", "kept"], "block/string", "w"]]);
    await engine.drain();
    expect(results[4]).toEqual({ ok: false, error: expect.objectContaining({ code: "tx_failed" }) });
    expect(results[5]).toEqual({ ok: true, ack: expect.objectContaining({ t: TX0 + 2 }) });
    expect(allDatoms(engine.db).map(([e, a, v, tx]) => [e, a, v, tx])).toEqual([
      [1, "block/string", "w", TX0 + 2],
      [1, "block/uid", "kept", TX0 + 1],
    ]);
    await engine.close();
    store.close();
  });

  test("withMaxTx moves the db's t on with its datoms unchanged, as empty transactions would (found in this datascript build)", () => {
    const schema = datascriptSchema(SCHEMA);
    const db = transact(emptyDb(schema), [{ "block/uid": "a", "block/string": "x" }]).db;
    const moved = withMaxTx(db, TX0 + 50);
    // Null would mean the fold takes one transaction per t: right, but ~5 µs per edit.
    expect(moved).not.toBeNull();
    let stepped = db;
    for (let t = TX0 + 2; t <= TX0 + 50; t++) stepped = transact(stepped, [[":db/add", 1, "block/string", "x"]]).db;
    expect(allDatoms(moved!)).toEqual(allDatoms(stepped));
    expect(deserialize(serialize(moved!, schema), schema).t).toBe(TX0 + 50);
    const next = transact(moved!, [{ "block/uid": "b" }]);
    expect(next.t).toBe(TX0 + 51);
    expect(next.datoms).toEqual([[2, "block/uid", "b", TX0 + 51, true]]);
    // The original is a value: untouched.
    expect(transact(db, []).t).toBe(TX0 + 2);
    expect(withMaxTx(moved!, TX0 + 10)).toBeNull();
  });

  test("a hostile client's lookup refs pin no memory: misses and long values are never kept", () => {
    const long = "u".repeat(300);
    const db = transact(emptyDb(datascriptSchema(SCHEMA)), [{ "block/uid": "short" }, { "block/uid": long }]).db;
    const head = new WriterHead(db, TX0 + 1);
    for (let i = 0; i < 1000; i++) {
      const missing = `${"x".repeat(1000)}${i}`;
      expect(head.applyPlain(plainEdits([[":db/add", ["block/uid", missing], "block/string", "x"]], SCHEMA)!)).toBeNull();
    }
    expect(head.cachedLookups).toBe(0);
    expect(head.applyPlain(plainEdits([[":db/add", ["block/uid", long], "block/string", "a"]], SCHEMA)!)).not.toBeNull();
    expect(head.cachedLookups).toBe(0);
    expect(head.applyPlain(plainEdits([[":db/add", ["block/uid", "short"], "block/string", "b"]], SCHEMA)!)).not.toBeNull();
    expect(head.cachedLookups).toBe(1);
  });

  test("the lag is folded by bytes (replaced values stay alive in it) and by slots (edits that change nothing)", () => {
    const schema = datascriptSchema(SCHEMA);
    const big = transact(emptyDb(schema), [{ "block/uid": "a", "block/string": "" }]).db;
    const head = new WriterHead(big, TX0 + 1);
    let edits = 0;
    while (!head.lagFull) head.applyPlain(plainEdits([[":db/add", 1, "block/string", `${edits++}`.padEnd(100_000, ".")]], SCHEMA)!);
    // Each edit keeps its value and the one it replaced: about 200 KB.
    expect(edits).toBe(Math.ceil(MAX_LAG_BYTES / 200_100) + 1);

    const attrs = ["block/order", "block/heading", "create/time", "edit/time", "page/sidebar"];
    const entities = Array.from({ length: 1000 }, (_, i) => Object.fromEntries([["block/uid", `b${i}`], ...attrs.map((a) => [a, 1])]));
    const full = transact(emptyDb(schema), entities).db;
    const quiet = new WriterHead(full, TX0 + 1);
    for (const a of attrs) {
      if (quiet.lagFull) break;
      // Every value set to what it already is: no datom, no byte, one slot each.
      const got = quiet.applyPlain(plainEdits(Array.from({ length: 1000 }, (_, i) => [":db/add", i + 1, a, 1]), SCHEMA)!);
      expect(got!.datoms).toEqual([]);
    }
    expect(quiet.lagFull).toBe(true);
    expect(quiet.lagLength).toBe(Math.ceil(MAX_SLOTS / 1000));
  });

  test("an attribute holding two values (a snapshot from when it was many-valued) goes to datascript", () => {
    const manySchema = { ...SCHEMA, "block/string": { type: "string" as const, many: true } };
    const old = transact(emptyDb(datascriptSchema(manySchema)), [{ "block/uid": "a", "block/string": ["v1", "v2"] }]);
    const { db } = deserialize(serialize(old.db, datascriptSchema(manySchema)), datascriptSchema(SCHEMA));
    expect(allDatoms(db).filter((d) => d[1] === "block/string")).toHaveLength(2);
    const head = new WriterHead(db, old.t);
    expect(head.applyPlain(plainEdits([[":db/add", 1, "block/string", "v3"]], SCHEMA)!)).toBeNull();
    expect(head.lagLength).toBe(0);
  });

  test("a lag of big transactions is folded by its datoms, before MAX_LAG", () => {
    let ref: Db = transact(emptyDb(datascriptSchema(SCHEMA)), [{ "block/uid": "a", "block/string": "" }]).db;
    const head = new WriterHead(ref, TX0 + 1);
    let applied = 0;
    while (!head.lagFull) {
      // 100 edits of one value each: datascript keeps the last, as the fold must.
      const tx = Array.from({ length: 100 }, (_, i) => [":db/add", 1, "block/string", `v${applied}.${i}`]);
      const got = head.applyPlain(plainEdits(tx, SCHEMA)!)!;
      const want = transact(ref, tx);
      expect(got).toEqual({ t: want.t, datoms: want.datoms });
      ref = want.db;
      applied++;
    }
    expect(applied).toBe(Math.ceil(MAX_LAG_DATOMS / 200));
    expect(head.lagLength).toBeLessThan(MAX_LAG);
    expect(allDatoms(head.db())).toEqual(allDatoms(ref));
    expect(head.lagLength).toBe(0);
  });

  test("a long run of plain edits is folded at MAX_LAG and stays datascript's db", async () => {
    const store = new SqliteStore(path.join(dir, "long.db"));
    const engine = SyncEngine.open(store, { schema: SCHEMA, maxTxDatoms: 100, snapshotEvery: 1_000_000, logRetain: 10, logger: pino({ level: "silent" }) });
    let ref: Db = emptyDb(datascriptSchema(SCHEMA));
    const apply = (tx: unknown[]) => {
      const want = reference(ref, tx);
      if (!("db" in want)) throw new Error(want.code);
      ref = want.db;
      engine.submit("alice", `x${want.t}`, tx, () => {});
    };
    for (let i = 0; i < 4; i++) apply([{ "block/uid": `b${i}`, "block/string": "" }]);
    for (let i = 0; i < MAX_LAG * 2 + 7; i++) apply([[":db/add", ["block/uid", `b${i % 3}`], "block/string", `edit ${i}`]]);
    // Block 3 kept its first value; the others carry the t of their last edit.
    await engine.drain();
    expect(allDatoms(engine.db)).toEqual(allDatoms(ref));
    apply([[":db/retractEntity", ["block/uid", "b1"]]]);
    apply([[":db/add", ["block/uid", "b0"], "block/order", 3]]);
    await engine.drain();
    expect(allDatoms(engine.db)).toEqual(allDatoms(ref));
    await engine.close();
    store.close();
  });
});
