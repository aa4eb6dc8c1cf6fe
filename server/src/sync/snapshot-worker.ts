/**
 * Worker thread behind SnapshotBuilder: keeps its own replica of the committed db (fed
 * the datoms of every commit) and, on request, serializes it for the store and encodes
 * it as `snapshot` frames for joining clients. All of that CPU stays off the writer's
 * event loop; the writer only posts datoms and receives finished buffers.
 */
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { allDatoms, type DatascriptSchema, deserialize, emptyDb, replay, serialize, TX0 } from "../datalog/datascript";
import { deleteOrphanChunks, readLatestSnapshot, writeSnapshotChunks } from "../storage/snapshot-rows";
import { encodeSnapshot } from "./fanout";
import { type ToWorker, type FromWorker, WORKER_NICE } from "./snapshot-builder";

// This thread's nice value only (Linux sets it per thread): on a machine short of cores,
// the scheduler then runs the writer's event loop before seconds of serializing and
// encoding a large db, which otherwise kept that loop waiting for a CPU and its acks late.
try {
  os.setPriority(WORKER_NICE);
} catch {
  // Not permitted here: the build just competes with the writer at equal priority.
}

const { file, schema, upTo } = workerData as { file: string; schema: DatascriptSchema; upTo: number };
const port = parentPort!;

// Load what is durable now; commits posted since are in the queue and skip what we already hold.
const store = new Database(file, { readonly: true, fileMustExist: true });
let db = emptyDb(schema);
let t = TX0;
store.transaction(() => {
  const snap = readLatestSnapshot(store);
  if (snap) ({ db, t } = deserialize(snap.db, schema));
  // Only what is durable: later rows may still await their fsync; they arrive as commits.
  for (const row of store.prepare("SELECT t, datoms FROM log WHERE t > ? AND t <= ? ORDER BY t").iterate(t, upTo) as Iterable<{ t: number; datoms: string }>) {
    ({ db, t } = replay(db, JSON.parse(row.datoms)));
    if (t !== row.t) throw new Error(`log is not contiguous at t=${row.t}`);
  }
})();
store.close();

let writer: Database.Database | undefined;
function openWriter(): Database.Database {
  const conn = new Database(file, { fileMustExist: true });
  conn.pragma("busy_timeout = 5000");
  conn.pragma("synchronous = NORMAL");
  return conn;
}

port.on("message", (msg: ToWorker) => {
  if (msg.type === "commit") {
    for (const entry of msg.entries) {
      if (entry.t <= t) continue;
      ({ db, t } = replay(db, entry.datoms));
      if (t !== entry.t) throw new Error(`replica out of step: expected t=${entry.t}, got ${t}`);
    }
    return;
  }
  // build: a failure (the disk full, SQLITE_FULL) fails this build only. Thrown out of
  // this handler it ended the thread, and with it every later snapshot and every join
  // that needed one, until a restart (a durability review).
  try {
    build(msg.id, msg.serialize);
  } catch (err) {
    try {
      writer?.close();
    } catch {
      // Closing a connection whose disk is full: nothing more to do with it.
    }
    writer = undefined;
    port.postMessage({ type: "failed", id: msg.id, message: (err as Error)?.message ?? String(err) } satisfies FromWorker);
  }
});

function build(id: number, store: boolean): void {
  let chunks = 0;
  if (store) {
    // Stored from here, a chunk per short transaction: the writer's loop only commits the
    // snapshots row. Its own connection; commits here need no fsync of their own (the
    // writer's next fsync of the WAL, or a checkpoint's, covers them before that row).
    writer ??= openWriter();
    deleteOrphanChunks(writer);
    chunks = writeSnapshotChunks(writer, t, serialize(db, schema));
  }
  const frames = encodeSnapshot(t, allDatoms(db)).map((f) => {
    const copy = new Uint8Array(f.length);
    copy.set(f);
    return copy;
  });
  const reply: FromWorker = { type: "built", id, t, db: null, chunks, frames };
  port.postMessage(reply, frames.map((f) => f.buffer));
}
port.postMessage({ type: "ready", t } satisfies FromWorker);
