import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClientIdFilter } from "../src/storage/client-id-filter";
import { SqliteStore } from "../src/storage/sqlite-store";
import type { LogEntry } from "../src/storage/store";

const T0 = 536870913;

function entry(t: number, author: string, clientId: string): LogEntry {
  return { t, clientId, author, txData: [], txHash: "h", datoms: [], tempids: {}, time: 0 };
}

describe("ClientIdFilter", () => {
  test("never answers 'not logged' for an id it holds, across generations", () => {
    const filter = new ClientIdFilter();
    for (let i = 0; i < 30_000; i++) filter.add(T0 + i, `author${i % 7}`, `id-${i}`);
    for (let i = 0; i < 30_000; i++) expect(filter.mightContain(`author${i % 7}`, `id-${i}`)).toBe(true);
  });

  test("answers 'not logged' for nearly every fresh id (false positives about 1%)", () => {
    const filter = new ClientIdFilter();
    for (let i = 0; i < 8192; i++) filter.add(T0 + i, "a", `id-${i}`);
    let maybes = 0;
    for (let i = 0; i < 10_000; i++) if (filter.mightContain("a", `fresh-${i}`)) maybes++;
    expect(maybes).toBeLessThan(300);
  });

  test("the author is part of the key: the same id by another author is fresh", () => {
    const filter = new ClientIdFilter();
    filter.add(T0, "ab", "c");
    expect(filter.mightContain("ab", "c")).toBe(true);
    expect(filter.mightContain("a", "bc")).toBe(false);
    expect(filter.mightContain("other", "c")).toBe(false);
  });

  test("pruning drops only generations wholly at or below the pruned t", () => {
    const filter = new ClientIdFilter();
    for (let i = 0; i < 3 * 8192; i++) filter.add(T0 + i, "a", `id-${i}`);
    filter.prune(T0 + 8192 + 10); // inside the second generation
    expect(filter.mightContain("a", "id-8200")).toBe(true); // kept: its generation still holds later entries
    expect(filter.mightContain("a", `id-${3 * 8192 - 1}`)).toBe(true);
    let maybes = 0;
    for (let i = 0; i < 8192; i++) if (filter.mightContain("a", `id-${i}`)) maybes++;
    expect(maybes).toBeLessThan(500); // the first generation is gone
  });

  test("past its capacity it answers 'maybe' for everything (the SQL lookup decides)", () => {
    const filter = new ClientIdFilter(100);
    for (let i = 0; i < 101; i++) filter.add(T0 + i, "a", `id-${i}`);
    expect(filter.mightContain("a", "never-added")).toBe(true);
  });
});

describe("SqliteStore with the client-id filter", () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "cid-filter-"))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("finds ids logged before a reopen (the filter is rebuilt from the log at boot)", () => {
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
});
