/**
 * A backup of a large db holds its snapshot as `snapshot_chunks` rows (server migration 4,
 * server/src/storage/snapshot-rows.ts). The CLI's reader must rebuild the datoms from that
 * layout too, or every large backup would fail `backup pull`'s verification.
 */
import fs from "node:fs";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";
import { readBackupDatoms } from "../src/backup-file";
import { tmpDir } from "./helpers";

const TX0 = 536870912;
const snapshot = JSON.stringify({ db: { "max-tx": TX0 + 2, attrs: ["block/string", "block/uid"], eavt: [[1, 1, "a", TX0 + 1], [1, 0, "first", TX0 + 2]] } });

function backup(chunks: string[] | null): string {
  const file = path.join(tmpDir(), "sync.db");
  const db = new DatabaseSync(file);
  db.exec("CREATE TABLE log (t INTEGER PRIMARY KEY, datoms TEXT NOT NULL); CREATE TABLE snapshots (t INTEGER PRIMARY KEY, db TEXT NOT NULL, chunks INTEGER NOT NULL DEFAULT 0); CREATE TABLE snapshot_chunks (t INTEGER, seq INTEGER, data TEXT, PRIMARY KEY (t, seq))");
  if (chunks) {
    db.prepare("INSERT INTO snapshots (t, db, chunks) VALUES (?, '', ?)").run(TX0 + 2, chunks.length);
    chunks.forEach((data, seq) => db.prepare("INSERT INTO snapshot_chunks (t, seq, data) VALUES (?, ?, ?)").run(TX0 + 2, seq, data));
  } else {
    db.prepare("INSERT INTO snapshots (t, db) VALUES (?, ?)").run(TX0 + 2, snapshot);
  }
  db.prepare("INSERT INTO log (t, datoms) VALUES (?, ?)").run(TX0 + 3, JSON.stringify([[1, "block/string", "first", TX0 + 3, false], [1, "block/string", "second", TX0 + 3, true]]));
  db.close();
  return file;
}

const want = ['[1,"block/string","second"]', '[1,"block/uid","a"]'];

test("a snapshot in one row and the same snapshot in chunk rows give the same datoms", () => {
  expect(readBackupDatoms(backup(null))).toEqual(want);
  const cut = Math.floor(snapshot.length / 2);
  expect(readBackupDatoms(backup([snapshot.slice(0, cut), snapshot.slice(cut)]))).toEqual(want);
});

test("a chunked snapshot missing a chunk is not a usable backup", () => {
  const file = backup([snapshot.slice(0, 10), snapshot.slice(10)]);
  const db = new DatabaseSync(file);
  db.exec("DELETE FROM snapshot_chunks WHERE seq = 1");
  db.close();
  expect(() => readBackupDatoms(file)).toThrow(/has 1 of its 2 chunks/);
  fs.rmSync(path.dirname(file), { recursive: true, force: true });
});
