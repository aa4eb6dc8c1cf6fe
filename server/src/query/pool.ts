import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import type { ResultLimits } from "../datalog/query";
import { ErrorCode } from "../errors";
import type { LogEntry } from "../storage/store";
import type { PreparedQuery } from "./validate";
import type { CommittedEntry, FromWorker, ToWorker, WorkerInit } from "./worker";
import { workerFile } from "../worker-file";

export type QueryOutcome = { ok: true; json: string } | { ok: false; code: ErrorCode; message: string };

export interface PoolOptions {
  /** The SQLite log the workers load the committed db from. */
  readonly dbFile: string;
  /**
   * The newest durable t. A worker loads the log only up to it: rows past it may still be
   * waiting for their fsync, and reach the worker as commits once durable (never a query
   * answer from a transaction that a crash could still take back).
   */
  readonly durableT: () => number;
  readonly size: number;
  /**
   * Wall-clock limit from arrival to reply, waiting for a busy worker included, but not the
   * time the pool spends with no worker ready (loading the db: at the first query, or after
   * a worker was replaced). That wait is bounded by loadWaitMs instead.
   */
  readonly timeoutMs: number;
  /** How long a query may wait for a worker to finish loading the db (default LOAD_WAIT_MS). */
  readonly loadWaitMs?: number;
  /** Heap limit of each worker (resourceLimits.maxOldGenerationSizeMb). */
  readonly memoryBytes: number;
  readonly limits: ResultLimits;
  readonly logger: Logger;
}

interface Job {
  readonly id: number;
  readonly query: PreparedQuery;
  readonly done: (outcome: QueryOutcome) => void;
  /** The job's deadline: what is left of SYNC_QUERY_TIMEOUT, or the load wait while no worker is ready. */
  timer?: NodeJS.Timeout;
  /** Which of the two the timer counts. */
  waitingForLoad: boolean;
  /**
   * What is left of SYNC_QUERY_TIMEOUT as of armedAt. Time while a worker is ready (the job
   * waits for a busy one, or runs) uses it up; time while none is (loading) is paused. A
   * fresh limit after each load let one query wait behind twelve that each timed out and
   * replaced the worker for 12 x (limit + load).
   */
  budgetMs: number;
  armedAt: number;
  /** Never answered later than this (performance.now()): arrival + the load wait + the timeout. */
  readonly latestAt: number;
  slot?: Slot;
  settled: boolean;
}

interface Slot {
  readonly worker: Worker;
  ready: boolean;
  /** Set when this worker is being replaced; its events are ignored from then on. */
  retired: boolean;
  job?: Job;
}

const WORKER_FILE = workerFile(__filename, "worker.js");

const MAX_RESPAWN_DELAY_MS = 30_000;

/**
 * How long a query waits for a worker that is loading the db. A worker loads the newest
 * snapshot and replays the log after it: well under a second for a small db, seconds for
 * a million datoms, and longer on a busy machine. Charging that to SYNC_QUERY_TIMEOUT
 * answered every query at boot with query_timeout, blaming the query for the server's load.
 */
export const LOAD_WAIT_MS = 60_000;

/**
 * A fixed pool of query workers (./worker.ts) that each hold a copy of the committed
 * db. Jobs wait in one FIFO queue. Every job has a deadline SYNC_QUERY_TIMEOUT after it
 * arrived: a job still queued then is answered query_timeout without running, and a
 * running one is stopped by terminating its worker, which is replaced by a fresh one
 * that loads the db again and catches up. While no worker is ready (all loading), a queued
 * job's limit is paused and it waits up to LOAD_WAIT_MS instead; it resumes once one is
 * ready. None is answered later than arrival + both. The writer's thread only posts
 * messages.
 */
export class QueryPool {
  private slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextJob = 1;
  private stopped = false;
  private respawnDelayMs = 0;

  constructor(private readonly options: PoolOptions) {}

  /** Forwards committed transactions to every worker (booting ones too; see worker.ts). */
  commit(entries: readonly LogEntry[]): void {
    const msg: ToWorker = { type: "commits", entries: entries.map((e): CommittedEntry => ({ t: e.t, datoms: e.datoms })) };
    for (const slot of this.slots) if (!slot.retired) slot.worker.postMessage(msg);
  }

  /** Queues a validated query; done is called exactly once. Returns a cancel function. */
  run(query: PreparedQuery, done: (outcome: QueryOutcome) => void): () => void {
    if (this.stopped) {
      done({ ok: false, code: ErrorCode.SHUTTING_DOWN, message: "the server is shutting down" });
      return () => undefined;
    }
    // Workers start with the first query: a server nobody queries never pays for a
    // second copy of the db, and boot stays as fast as before.
    if (this.slots.length === 0) for (let i = 0; i < this.options.size; i++) this.slots.push(this.spawn());
    const id = this.nextJob++;
    const now = performance.now();
    const job: Job = { id, query, done, settled: false, waitingForLoad: false, budgetMs: this.options.timeoutMs, armedAt: now, latestAt: now + this.loadWaitMs + this.options.timeoutMs };
    this.arm(job);
    this.queue.push(job);
    this.dispatch();
    return () => this.cancel(job);
  }

  /** Stops every worker; queued and running jobs get shutting_down. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const job of this.queue.splice(0)) this.settle(job, { ok: false, code: ErrorCode.SHUTTING_DOWN, message: "the server is shutting down" });
    const slots = this.slots;
    this.slots = [];
    await Promise.all(
      slots.map((slot) => {
        slot.retired = true;
        if (slot.job) this.settle(slot.job, { ok: false, code: ErrorCode.SHUTTING_DOWN, message: "the server is shutting down" });
        return slot.worker.terminate();
      }),
    );
  }

  private spawn(): Slot {
    const init: WorkerInit = { dbFile: this.options.dbFile, maxT: this.options.durableT(), limits: this.options.limits };
    const worker = new Worker(WORKER_FILE, {
      workerData: init,
      resourceLimits: { maxOldGenerationSizeMb: Math.max(16, Math.floor(this.options.memoryBytes / 1024 ** 2)) },
      // The worker must not inherit stdin or write to the server's stdout.
      stdout: false,
      stderr: false,
    });
    const slot: Slot = { worker, ready: false, retired: false };
    worker.on("message", (msg: FromWorker) => this.onMessage(slot, msg));
    worker.on("error", (err: Error) => this.onFailure(slot, err));
    worker.on("exit", (code) => {
      if (!slot.retired) this.onFailure(slot, new Error(`query worker exited with code ${code}`));
    });
    return slot;
  }

  private onMessage(slot: Slot, msg: FromWorker): void {
    if (slot.retired) return;
    switch (msg.type) {
      case "ready": {
        const wasLoading = this.loading();
        slot.ready = true;
        // The wait for the load is over: queued jobs resume what is left of their limit.
        this.rearmIfLoadingChanged(wasLoading);
        this.respawnDelayMs = 0;
        this.options.logger.debug({ t: msg.t, ms: msg.ms }, "query worker ready");
        return this.dispatch();
      }
      case "failed":
        return this.onFailure(slot, new Error(msg.message));
      case "result":
      case "error": {
        const job = slot.job;
        if (!job || job.id !== msg.job) return;
        slot.job = undefined;
        this.settle(job, msg.type === "result" ? { ok: true, json: msg.json } : { ok: false, code: msg.code, message: msg.message });
        return this.dispatch();
      }
    }
  }

  /** A worker crashed, ran out of memory or could not load: answer its job, replace it. */
  private onFailure(slot: Slot, err: Error & { code?: string }): void {
    if (slot.retired) return;
    const outOfMemory = err.code === "ERR_WORKER_OUT_OF_MEMORY";
    if (slot.job) {
      this.settle(
        slot.job,
        outOfMemory
          ? { ok: false, code: ErrorCode.QUERY_TOO_LARGE, message: "the query needed more memory than SYNC_QUERY_MEMORY; narrow it" }
          : { ok: false, code: ErrorCode.INTERNAL, message: "internal error" },
      );
    } else {
      this.options.logger.error({ err: err.message }, "query worker failed");
      // A worker that fails without a job (e.g. while loading) is retried with backoff.
      this.respawnDelayMs = Math.min(MAX_RESPAWN_DELAY_MS, Math.max(1000, this.respawnDelayMs * 2));
    }
    this.replace(slot, slot.job ? 0 : this.respawnDelayMs);
  }

  private replace(slot: Slot, delayMs: number): void {
    const wasLoading = this.loading();
    slot.retired = true;
    slot.job = undefined;
    // The replacement starts only once the old worker is gone. terminate() takes effect
    // only between JS steps, and one native step (serializing a huge result) ran for
    // seconds: respawning at once let timed-out workers pile up, each with its own heap,
    // and SYNC_QUERY_MEMORY no longer bounded the pool (found by a hostile review).
    const gone = slot.worker.terminate().then(
      () => undefined,
      () => undefined,
    );
    // The last ready worker is gone: queued jobs now wait for a load, bounded by its own limit.
    this.rearmIfLoadingChanged(wasLoading);
    const index = this.slots.indexOf(slot);
    if (index < 0 || this.stopped) return;
    const respawn = () => {
      if (this.stopped) return;
      const i = this.slots.indexOf(slot);
      if (i >= 0) this.slots[i] = this.spawn();
    };
    void gone.then(() => {
      if (delayMs > 0) setTimeout(respawn, delayMs).unref();
      else respawn();
    });
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.retired || !slot.ready || slot.job) continue;
      const job = this.queue.shift();
      if (!job) return;
      slot.job = job;
      job.slot = slot;
      const msg: ToWorker = { type: "query", job: job.id, query: job.query };
      slot.worker.postMessage(msg);
    }
  }

  /** True while no worker can take a job: every one is loading the db (or being respawned). */
  private loading(): boolean {
    return !this.slots.some((s) => s.ready && !s.retired);
  }

  /** Re-arms every queued job's deadline when the pool started or stopped loading since wasLoading. */
  private rearmIfLoadingChanged(wasLoading: boolean): void {
    if (wasLoading !== this.loading()) for (const job of [...this.queue]) this.arm(job);
  }

  /**
   * (Re)starts a job's deadline for the pool's state now: the load wait while it is loading,
   * else what is left of its SYNC_QUERY_TIMEOUT. Time counted against the limit since the
   * last arm is taken off first.
   */
  private arm(job: Job): void {
    clearTimeout(job.timer);
    const now = performance.now();
    if (!job.waitingForLoad) job.budgetMs -= now - job.armedAt;
    job.armedAt = now;
    job.waitingForLoad = this.loading();
    const ms = Math.min(job.waitingForLoad ? this.loadWaitMs : job.budgetMs, job.latestAt - now);
    // Answered now, not by a timer: a worker that just became ready would otherwise be
    // handed this job first, and its limit would end the run and the worker with it (a
    // reload per expired job, each charged to the jobs behind).
    if (ms <= 0) return this.expire(job, job.waitingForLoad);
    job.timer = setTimeout(() => this.expire(job, job.waitingForLoad), ms);
  }

  private get loadWaitMs(): number {
    return this.options.loadWaitMs ?? LOAD_WAIT_MS;
  }

  private expire(job: Job, whileLoading: boolean): void {
    if (job.settled) return;
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    const message = whileLoading
      ? `the query workers are still loading the db (load wait ${this.loadWaitMs} ms); retry shortly`
      : `the query ran over ${this.options.timeoutMs} ms (SYNC_QUERY_TIMEOUT)`;
    this.settle(job, { ok: false, code: ErrorCode.QUERY_TIMEOUT, message });
    const slot = job.slot;
    if (slot && slot.job === job && !slot.retired) this.replace(slot, 0);
  }

  /** The client left: drop its job if it has not started (a running one finishes or expires). */
  private cancel(job: Job): void {
    const queued = this.queue.indexOf(job);
    if (queued < 0) return;
    this.queue.splice(queued, 1);
    job.settled = true;
    clearTimeout(job.timer);
  }

  private settle(job: Job, outcome: QueryOutcome): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.timer);
    job.done(outcome);
  }
}
