import type { Connection } from "../connection";
import type { SyncEngine } from "./engine";
import { encode, encodeTxs } from "./fanout";
import type { SnapshotCache } from "./snapshot-cache";

/**
 * About this many bytes of datoms (the log rows' text: ~130 small transactions, or one
 * big one) are read from the log per turn of the event loop. Reading the whole tail after
 * the cached snapshot in one synchronous step (up to 1 MB, ~6,500 small rows, each
 * JSON.parsed three times) held the loop 100-150 ms per joining client at 1M datoms, and
 * with it every other client's ack.
 */
export const LOG_BYTES_PER_TURN = 16 * 1024;

/**
 * Streams one client's catch-up (snapshot frames and/or log entries) in bounded pieces,
 * only while its send buffer is below half of SYNC_MAX_BUFFERED_BYTES, so a large db
 * never sits in memory once per client and never trips the cap by itself. Commits that
 * land while it streams are read from the log afterwards. When the client has
 * everything up to the committed t, `synced` goes out and the connection turns live in
 * the same synchronous step: no commit falls between catch-up and live.
 */
export class CatchUpPump {
  private queue: Buffer[] = [];
  /** The t the client will hold once the queue is sent. */
  private t = 0;
  private scheduled = false;
  private done = false;
  private readonly lowWater: number;

  constructor(
    private readonly conn: Connection,
    private readonly engine: SyncEngine,
    private readonly snapshots: SnapshotCache,
    private readonly onLive: () => void,
  ) {
    this.lowWater = Math.max(64 * 1024, Math.floor(conn.maxBufferedBytes / 2));
  }

  start(since: number | undefined): void {
    // From the log only while that costs less than the shared snapshot frames (engine.logCatchUpFits).
    if (since !== undefined && this.engine.logCatchUpFits(since)) {
      this.t = since;
      this.pumpOrClose();
    } else this.fromSnapshot();
  }

  /** Queues the cached snapshot frames; waits for them (off the event loop) when there are none yet. */
  private fromSnapshot(): void {
    const snap = this.snapshots.get();
    if (!(snap instanceof Promise)) {
      this.queue = [...snap.frames];
      this.t = snap.t;
      this.pumpOrClose();
      return;
    }
    snap.then(
      () => this.fromSnapshot(),
      (err: unknown) => {
        this.done = true;
        this.conn.log.error({ err }, "snapshot for catch-up failed");
        this.conn.close(1011, "snapshot unavailable; retry");
      },
    );
  }

  private readonly wake = () => {
    if (this.scheduled || this.done) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pumpOrClose();
    });
  };

  /**
   * pump() runs from timers and setImmediate, where a throw (a log read failing, a db
   * whose log and snapshot disagree) would be uncaught and end the process: this one
   * client is closed 1011 instead, and retries with `since`.
   */
  private pumpOrClose(): void {
    try {
      this.pump();
    } catch (err) {
      this.done = true;
      this.conn.log.error({ err }, "catch-up failed");
      this.conn.close(1011, "catch-up failed; retry");
    }
  }

  private pump(): void {
    if (this.done) return;
    let readLog = false;
    for (;;) {
      if (this.conn.ws.readyState !== this.conn.ws.OPEN) {
        this.done = true;
        return;
      }
      // Wait for the client to read: `wake` runs when an earlier frame reaches the kernel;
      // the timer covers a buffer filled by other frames (acks, results).
      if (this.conn.buffered >= this.lowWater) {
        setTimeout(this.wake, 20).unref();
        return;
      }
      const frame = this.queue.shift();
      if (frame) {
        if (!this.conn.sendText(frame, this.wake)) this.done = true;
        continue;
      }
      if (this.t > this.engine.t) {
        // Frames ahead of the durable t (their group's fsync is still running): wait for it.
        setTimeout(this.wake, 5).unref();
        return;
      }
      if (this.t === this.engine.t) {
        this.done = true;
        this.conn.sendText(encode({ type: "synced", t: this.t }));
        this.onLive();
        return;
      }
      // The log moved past t while we streamed (pruned behind a new snapshot): start over.
      if (!this.snapshots.usable(this.t)) return this.fromSnapshot();
      // One batch of the log per turn: the rest after other clients' I/O (setImmediate).
      if (readLog) return this.wake();
      readLog = true;
      const entries = this.engine.logAfter(this.t, LOG_BYTES_PER_TURN);
      if (entries.length === 0) throw new Error(`log has nothing after t=${this.t} but the db is at ${this.engine.t}`);
      this.queue = encodeTxs(entries);
      this.t = entries[entries.length - 1]!.t;
    }
  }
}
