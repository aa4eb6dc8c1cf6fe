import { Worker } from "node:worker_threads";
import type { DatascriptSchema, WireDatom } from "../datalog/datascript";
import type { LogEntry } from "../storage/store";
import { workerFile } from "../worker-file";

export type ToWorker = { type: "commit"; entries: Array<{ t: number; datoms: WireDatom[] }> } | { type: "build"; id: number; serialize: boolean };
export type FromWorker =
  | { type: "ready"; t: number }
  | { type: "built"; id: number; t: number; db: string | null; chunks: number; frames: Uint8Array[] }
  | { type: "failed"; id: number; message: string };

/**
 * A worker that died is started again by the next build, but not sooner than this after
 * the death: a db it cannot load would otherwise cost a thread and a full load per request.
 */
export const RESTART_AFTER_MS = 5_000;

/** The snapshot worker thread's nice value: below the writer's loop (0), so it yields the CPU to it. */
export const WORKER_NICE = 10;

export interface BuiltSnapshot {
  readonly t: number;
  /** The serialized db for the store, when asked for and not stored by the worker itself. */
  readonly db: string | null;
  /** When asked to serialize: the chunk rows the worker wrote for t (storage/snapshot-rows.ts); 0 if none. */
  readonly chunks: number;
  /** `snapshot` frames for joining clients. */
  readonly frames: Buffer[];
}


/**
 * Builds snapshots on a worker thread that keeps a replica of the committed db, so the
 * writer never serializes the whole db on its event loop (at 1M datoms that took a
 * second per snapshot and per joining client). Builds are coalesced: while one runs,
 * further requests share the next.
 */
export class SnapshotBuilder {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (b: BuiltSnapshot) => void; reject: (e: Error) => void }>();
  /** The last worker's death, and when: builds within RESTART_AFTER_MS of it fail with it. */
  private failure: { err: Error; at: number } | null = null;

  constructor(
    private readonly file: string,
    private readonly schema: DatascriptSchema,
    /**
     * The newest durable t. The worker loads the log only up to it: the log may already hold
     * groups whose fsync is still running, and those reach the worker as commits once durable.
     */
    private readonly durableT: () => number = () => Number.MAX_SAFE_INTEGER,
    private readonly restartAfterMs = RESTART_AFTER_MS,
  ) {}

  /**
   * Starts the worker on first use: it loads the db from the store itself, so commits
   * made before it started need not be posted (those posted later are skipped by t).
   */
  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = (this.worker = new Worker(workerFile(__filename, "snapshot-worker.js"), { workerData: { file: this.file, schema: this.schema, upTo: this.durableT() } }));
    worker.unref();
    worker.on("message", (msg: FromWorker) => {
      if (msg.type === "ready") return;
      const waiter = this.waiting.get(msg.id);
      this.waiting.delete(msg.id);
      if (msg.type === "failed") waiter?.reject(new Error(`snapshot build failed: ${msg.message}`));
      else waiter?.resolve({ t: msg.t, db: msg.db, chunks: msg.chunks, frames: msg.frames.map((f) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)) });
    });
    // A worker that died is forgotten: the next build (after RESTART_AFTER_MS) starts
    // another, which loads the durable db from the store, as the first one did.
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      this.failure = { err, at: Date.now() };
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`snapshot worker exited with ${code}`)));
    return worker;
  }

  get started(): boolean {
    return this.worker !== null;
  }

  /** Feeds the replica; call after every durable commit. */
  commit(entries: readonly LogEntry[]): void {
    if (!this.worker) return;
    this.worker.postMessage({ type: "commit", entries: entries.map((e) => ({ t: e.t, datoms: e.datoms })) } satisfies ToWorker);
  }

  /** The db at the newest t the worker has seen, as frames (and serialized, when asked). */
  build(serialize: boolean): Promise<BuiltSnapshot> {
    if (!this.worker && this.failure && Date.now() - this.failure.at < this.restartAfterMs) return Promise.reject(this.failure.err);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.start().postMessage({ type: "build", id, serialize } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    if (!this.worker) return;
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}
