import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { deleteOrphanChunks, SNAPSHOT_CHUNK_CHARS, writeSnapshotChunks } from "../src/storage/snapshot-rows";
import { SqliteStore } from "../src/storage/sqlite-store";

const T0 = 536870913;

describe("chunked snapshots (written by another connection, committed by the store)", () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-rows-"));
    file = path.join(dir, "sync.db");
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("a snapshot larger than a chunk reads back whole after a reopen; its log prune is part of the commit", () => {
    const store = new SqliteStore(file);
    store.appendBatch([T0, T0 + 1, T0 + 2].map((t) => ({ t, clientId: `c${t}`, author: "a", txData: [], txHash: "h", datoms: [], tempids: {}, time: 0 })));
    const text = "x".repeat(SNAPSHOT_CHUNK_CHARS * 2) + "tail";
    const other = new Database(file);
    const chunks = writeSnapshotChunks(other, T0 + 1, text);
    expect(chunks).toBe(3);
    // Written but not committed: not the snapshot yet.
    expect(store.latestSnapshot()).toBeUndefined();
    store.commitChunkedSnapshot(T0 + 1, chunks, T0 + 1);
    expect(store.logFloor()).toBe(T0 + 1);
    other.close();
    store.close();
    const reopened = new SqliteStore(file);
    expect(reopened.latestSnapshot()).toEqual({ t: T0 + 1, db: text });
    expect([...reopened.readAfter(0)].map((e) => e.t)).toEqual([T0 + 2]);
    reopened.close();
  });

  test("committing a snapshot whose chunks are not all there fails and changes nothing", () => {
    const store = new SqliteStore(file);
    store.writeSnapshot({ t: T0, db: "old" }, 0);
    const other = new Database(file);
    writeSnapshotChunks(other, T0 + 5, "y".repeat(10));
    expect(() => store.commitChunkedSnapshot(T0 + 5, 2, T0)).toThrow(/1 of its 2 chunks/);
    expect(store.latestSnapshot()).toEqual({ t: T0, db: "old" });
    other.close();
    store.close();
  });

  test("chunks of replaced snapshots and of builds never committed are dropped; the kept ones stay", () => {
    const store = new SqliteStore(file);
    const other = new Database(file);
    for (const t of [T0, T0 + 1, T0 + 2]) store.commitChunkedSnapshot(t, writeSnapshotChunks(other, t, `db at ${t}`), 0);
    writeSnapshotChunks(other, T0 + 3, "cut short"); // a crash before its commit
    // Two snapshots are kept: T0's chunks and the uncommitted T0+3's are orphans.
    expect(deleteOrphanChunks(other)).toBe(2);
    expect(store.latestSnapshot()).toEqual({ t: T0 + 2, db: `db at ${T0 + 2}` });
    expect(other.prepare("SELECT DISTINCT t FROM snapshot_chunks ORDER BY t").pluck().all()).toEqual([T0 + 1, T0 + 2]);
    other.close();
    store.close();
  });
});
