import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { ClientIdIndex } from "../src/storage/client-id-index";
import { MIGRATIONS, migrate } from "../src/storage/migrations";
import { SqliteStore } from "../src/storage/sqlite-store";
import type { LogEntry } from "../src/storage/store";

const T0 = 536870913;

function entry(t: number, author: string, clientId: string): LogEntry {
  return { t, clientId, author, txData: [], txHash: "h", datoms: [], tempids: {}, time: 0 };
}

describe("ClientIdIndex", () => {
  test("finds every id it holds, with its t, and nothing else", () => {
    const index = new ClientIdIndex();
    for (let i = 0; i < 30_000; i++) index.add(T0 + i, `author${i % 7}`, `id-${i}`);
    for (let i = 0; i < 30_000; i++) expect(index.get(`author${i % 7}`, `id-${i}`)).toBe(T0 + i);
    for (let i = 0; i < 1000; i++) expect(index.get("author0", `fresh-${i}`)).toBeUndefined();
    // The same id under another author is another transaction.
    expect(index.get("author1", "id-0")).toBeUndefined();
  });

  test("the author is part of the key, whatever characters either holds", () => {
    const index = new ClientIdIndex();
    index.add(T0, "ab", "c");
    index.add(T0 + 1, "a\u0000", "b");
    expect(index.get("ab", "c")).toBe(T0);
    expect(index.get("a", "bc")).toBeUndefined();
    expect(index.get("a", "\u0000b")).toBeUndefined();
    expect(index.get("a\u0000", "b")).toBe(T0 + 1);
    expect(index.get("other", "c")).toBeUndefined();
  });

  test("generations: past its size a new Map starts (a Map holds at most 2^24 entries); lookups and pruning span them", () => {
    const index = new ClientIdIndex(4);
    for (let i = 0; i < 10; i++) index.add(T0 + i, "a", `id-${i}`);
    for (let i = 0; i < 10; i++) expect(index.get("a", `id-${i}`)).toBe(T0 + i);
    index.prune(T0 + 5); // drops the first generation, and two entries of the second
    expect(index.size).toBe(4);
    expect(index.get("a", "id-5")).toBeUndefined();
    expect(index.get("a", "id-6")).toBe(T0 + 6);
    expect(index.get("a", "id-9")).toBe(T0 + 9);
  });

  test("pruning forgets exactly the ids at or below the pruned t", () => {
    const index = new ClientIdIndex();
    for (let i = 0; i < 1000; i++) index.add(T0 + i, "a", `id-${i}`);
    index.prune(T0 + 499);
    expect(index.size).toBe(500);
    expect(index.get("a", "id-499")).toBeUndefined();
    expect(index.get("a", "id-500")).toBe(T0 + 500);
    index.prune(T0 + 10_000);
    expect(index.size).toBe(0);
  });
});

describe("SqliteStore with the client-id index", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "cid-index-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("finds ids logged before a reopen (the index is rebuilt from the log at boot)", () => {
    const file = path.join(dir, "sync.db");
    const first = new SqliteStore(file);
    first.appendBatch([entry(T0, "alice", "tx-1"), entry(T0 + 1, "bob", "tx-2")]);
    expect(first.findByClientId("alice", "tx-1")?.t).toBe(T0);
    expect(first.findByClientId("alice", "tx-2")).toBeUndefined();
    first.close();
    const second = new SqliteStore(file);
    expect(second.findByClientId("alice", "tx-1")?.t).toBe(T0);
    expect(second.findByClientId("bob", "tx-2")?.t).toBe(T0 + 1);
    second.close();
  });

  test("a failed append adds nothing; ids in the log after a prune are still found", () => {
    const store = new SqliteStore(path.join(dir, "sync.db"));
    store.appendBatch([entry(T0, "a", "x")]);
    // t must grow: a duplicate t fails the whole batch, and neither id is logged.
    expect(() => store.appendBatch([entry(T0 + 1, "a", "y"), entry(T0, "a", "z")])).toThrow();
    expect(store.findByClientId("a", "y")).toBeUndefined();
    store.appendBatch([entry(T0 + 1, "a", "y"), entry(T0 + 2, "a", "w")]);
    store.writeSnapshot({ t: T0 + 1, db: "{}" }, T0);
    expect(store.findByClientId("a", "x")).toBeUndefined();
    expect(store.findByClientId("a", "y")?.t).toBe(T0 + 1);
    expect(store.findByClientId("a", "w")?.t).toBe(T0 + 2);
    store.close();
  });

  test("a group commit of 64 transactions with random ids writes about one WAL page per 10 rows, not one per row", () => {
    const file = path.join(dir, "sync.db");
    const store = new SqliteStore(file);
    let t = T0;
    const group = () => Array.from({ length: 64 }, () => ({ ...entry(t++, `author-${t % 100}`, crypto.randomUUID()), txData: [[":db/add", 1, "block/string", "x".repeat(60)]] }));
    for (let i = 0; i < 20; i++) store.writeBatch(group()); // an index of some size first
    const before = fs.statSync(`${file}-wal`).size;
    const groups = 10;
    for (let i = 0; i < groups; i++) store.writeBatch(group());
    const pages = (fs.statSync(`${file}-wal`).size - before) / (4096 + 24) / groups;
    // With the unique index on (author, client_id) this was 65 pages a group (measured).
    expect(pages).toBeLessThan(12);
    store.close();
  });

  test("migration 5 drops the old index; a resend logged before it is still recognised", () => {
    const file = path.join(dir, "sync.db");
    const db = new Database(file);
    migrate(db, MIGRATIONS.slice(0, 4));
    db.prepare("INSERT INTO log (t, client_id, author, tx_data, tx_hash, datoms, tempids, time) VALUES (?, 'old-1', 'alice', '[]', 'h', '[]', '{}', 0)").run(T0);
    db.close();
    const store = new SqliteStore(file);
    expect(store.migration).toEqual({ from: 4, to: MIGRATIONS.length });
    expect(store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'log'").all()).toEqual([]);
    expect(store.findByClientId("alice", "old-1")?.t).toBe(T0);
    store.close();
  });
});
