/**
 * A query worker (worker_threads). It holds its own copy of the committed db, so
 * queries never run on the writer's event loop:
 *
 * 1. On start it reads the newest snapshot and the log after it from SQLite, in one
 *    read transaction (WAL: a consistent view, never blocking the writer), exactly as
 *    the engine does at boot, and reports `ready` with the t it reached.
 * 2. The pool posts every group commit's datoms to every worker from the moment the
 *    worker is created. Entries at or below the loaded t are skipped, the rest are
 *    applied in order, so the copy matches the committed db with no gap (messages
 *    posted while step 1 runs wait in the worker's queue).
 * 3. Queries arrive already validated (./validate.ts). The pool enforces the time
 *    limit by terminating this thread; the memory limit is the worker's resourceLimits.
 */
import fs from "node:fs";
import os from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import { type Db, type WireDatom, TX0, deserialize, emptyDb, replay } from "../datalog/datascript";
import { runPreparedQuery, type ResultLimits } from "../datalog/query";
import { datascriptSchema, SCHEMA } from "../datalog/schema";
import { SyncError } from "../errors";
import { readLatestSnapshot } from "../storage/snapshot-rows";
import type { PreparedQuery } from "./validate";

export interface WorkerInit {
  readonly dbFile: string;
  /** Load the log up to this t only: what is durable when the worker starts (later commits arrive as messages). */
  readonly maxT: number;
  readonly limits: ResultLimits;
}

export interface CommittedEntry {
  readonly t: number;
  readonly datoms: WireDatom[];
}

export type ToWorker = { type: "commits"; entries: CommittedEntry[] } | { type: "query"; job: number; query: PreparedQuery };

export type FromWorker =
  | { type: "ready"; t: number; ms: number }
  | { type: "result"; job: number; json: string }
  | { type: "error"; job: number; code: SyncError["code"]; message: string }
  | { type: "failed"; message: string };

function load(dbFile: string, maxT: number): { db: Db; t: number } {
  const schema = datascriptSchema(SCHEMA);
  const sqlite = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    sqlite.pragma("busy_timeout = 5000");
    return sqlite.transaction(() => {
      const snapshot = readLatestSnapshot(sqlite);
      let { db, t } = snapshot ? deserialize(snapshot.db, schema) : { db: emptyDb(schema), t: TX0 };
      for (const row of sqlite.prepare("SELECT t, datoms FROM log WHERE t > ? AND t <= ? ORDER BY t").iterate(t, maxT) as Iterable<{ t: number; datoms: string }>) {
        const report = replay(db, JSON.parse(row.datoms) as WireDatom[]);
        if (report.t !== row.t) throw new Error(`log is not contiguous: expected t=${report.t}, found t=${row.t}`);
        ({ db, t } = report);
      }
      return { db, t };
    })();
  } finally {
    sqlite.close();
  }
}

/**
 * Lowers this thread's CPU priority (nice 19) so the writer's thread always wins the CPU
 * when both want it: on Linux a thread id works with setpriority, and
 * /proc/thread-self names this thread. Elsewhere the worker keeps the normal priority.
 */
function yieldCpuToWriter(): void {
  try {
    const tid = Number(fs.readlinkSync("/proc/thread-self").split("/").pop());
    if (Number.isInteger(tid) && tid !== process.pid) os.setPriority(tid, 19);
  } catch {
    // not Linux, or no /proc: run at normal priority
  }
}

function main(): void {
  yieldCpuToWriter();
  const port = parentPort!;
  const init = workerData as WorkerInit;
  const post = (msg: FromWorker) => port.postMessage(msg);
  const started = Date.now();
  let state: { db: Db; t: number };
  try {
    state = load(init.dbFile, init.maxT);
  } catch (err) {
    post({ type: "failed", message: `loading the db failed: ${(err as Error).message}` });
    return;
  }
  post({ type: "ready", t: state.t, ms: Date.now() - started });

  port.on("message", (msg: ToWorker) => {
    if (msg.type === "commits") {
      for (const entry of msg.entries) {
        if (entry.t <= state.t) continue;
        const report = replay(state.db, entry.datoms);
        if (report.t !== entry.t) {
          post({ type: "failed", message: `commit out of order: expected t=${report.t}, got t=${entry.t}` });
          port.close();
          return;
        }
        state = { db: report.db, t: report.t };
      }
      return;
    }
    try {
      post({ type: "result", job: msg.job, json: runPreparedQuery(state.db, msg.query, init.limits) });
    } catch (err) {
      if (err instanceof SyncError) post({ type: "error", job: msg.job, code: err.code, message: err.message });
      else post({ type: "error", job: msg.job, code: "internal", message: "internal error" });
    }
  });
}

main();
