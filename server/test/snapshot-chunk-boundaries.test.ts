import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { allDatoms, deserialize, emptyDb, serialize, transact } from "../src/datalog/datascript";
import { SCHEMA, datascriptSchema } from "../src/datalog/schema";
import { SNAPSHOT_CHUNK_CHARS, writeSnapshotChunks } from "../src/storage/snapshot-rows";
import { SqliteStore } from "../src/storage/sqlite-store";

const DS = datascriptSchema(SCHEMA);

/** A db of three blocks whose serialized text has the emoji's surrogate pair straddling the first chunk boundary. */
function dbWithEmojiAtChunkBoundary() {
  let pad = 10_000;
  for (let round = 0; round < 4; round++) {
    let db = emptyDb(DS);
    db = transact(db, [
      { ":db/id": "a", "block/uid": "a", "block/string": "x".repeat(250_000) },
      { ":db/id": "b", "block/uid": "b", "block/string": "y".repeat(250_000) },
      { ":db/id": "c", "block/uid": "c", "block/string": `${"z".repeat(pad)}\u{1F600} party` },
    ]).db;
    const text = serialize(db, DS);
    const at = text.indexOf("\u{1F600}");
    // The high surrogate is the last character of chunk 0, the low one the first of chunk 1.
    if (at === SNAPSHOT_CHUNK_CHARS - 1) return { db, text };
    pad += SNAPSHOT_CHUNK_CHARS - 1 - at;
  }
  throw new Error("could not place the emoji");
}

describe("chunked snapshots and characters outside the BMP", () => {
  let dir: string;
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test("an emoji whose surrogate pair straddles a chunk boundary reads back intact after a reopen", () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-chunks-"));
    const file = path.join(dir, "sync.db");
    const { db, text } = dbWithEmojiAtChunkBoundary();
    const store = new SqliteStore(file);
    const other = new Database(file);
    // What the snapshot worker does for a large db (snapshot-worker.ts).
    const chunks = writeSnapshotChunks(other, 536870913, text);
    store.commitChunkedSnapshot(536870913, chunks, 0);
    other.close();
    store.close();
    const reopened = new SqliteStore(file);
    const back = reopened.latestSnapshot()!;
    reopened.close();
    const value = (d: ReturnType<typeof allDatoms>) => d.find(([, a, v]) => a === "block/string" && String(v).endsWith("party"))![2] as string;
    const before = value(allDatoms(db));
    const after = value(allDatoms(deserialize(back.db, DS).db));
    expect(after.slice(-8)).toBe(before.slice(-8)); // "😀 party", not "\ufffd\ufffd party"
    expect(back.db.length).toBe(text.length);
  });
});
