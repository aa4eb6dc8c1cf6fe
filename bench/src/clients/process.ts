/**
 * A client process: hosts a share of the simulated users, so that the orchestrator and
 * the servers keep their own event loops. Driven over IPC (ipc.ts); exits when told to
 * close, when its parent goes away, or on any failure after reporting it.
 */
import { EditTracker, formatEdit } from "../edits.ts";
import { Histogram } from "../histogram.ts";
import { nowMs } from "../clock.ts";
import type { Command, Report } from "../ipc.ts";
import type { BenchClient, Sink } from "./client.ts";
import { HocuspocusClient } from "./hocuspocus.ts";
import { OursClient } from "./ours.ts";

const clients: BenchClient[] = [];
const writers: BenchClient[] = [];
/** Each writer's next sequence number, across rounds. */
const nextSeq = new Map<number, number>();
const errors: string[] = [];
let failedReported = false;

const sink: Sink = {
  fanout: new Histogram(),
  fail(message) {
    if (errors.length < 50) errors.push(message);
    // Report at the next turn, so a burst of errors goes out as one report.
    if (!failedReported) {
      failedReported = true;
      setImmediate(() => send({ ev: "failed", errors: [...errors] }));
    }
  },
};

/**
 * Fault injection for the harness's own test (test/smoke.test.ts): with
 * BENCH_FAULT=drop-edit, client 1 loses writer 0's third edit, and the run must say so.
 */
function trackerFor(index: number): EditTracker {
  const tracker = new EditTracker(index);
  if (process.env.BENCH_FAULT === "drop-edit" && index === 1) {
    const accept = tracker.accept.bind(tracker);
    let dropped = false;
    tracker.accept = (edit) => {
      if (dropped || edit.writer !== 0 || edit.seq !== 2) return accept(edit);
      dropped = true;
      return true;
    };
  }
  return tracker;
}

function send(report: Report): void {
  process.send!(report);
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function connect(cmd: Extract<Command, { cmd: "connect" }>): Promise<void> {
  let connected = 0;
  let failed = 0;
  let firstError: string | null = null;
  const queue = [...cmd.clients];
  const one = async (): Promise<void> => {
    for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
      if (nowMs() > cmd.deadlineAt) return;
      const options = { index, url: cmd.url, sink, tracker: trackerFor(index) };
      const client = cmd.kind === "ours" ? new OursClient(options, cmd.protocol) : new HocuspocusClient(options, cmd.hocuspocusEdit);
      clients.push(client);
      if (index < cmd.writers) writers.push(client);
      try {
        const left = cmd.deadlineAt - nowMs();
        await Promise.race([client.connect(), new Promise((_, reject) => setTimeout(() => reject(new Error("connect deadline")), left).unref())]);
        connected++;
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(cmd.concurrency, cmd.clients.length) }, one));
  send({ ev: "connected", connected, failed, firstError, doneAt: nowMs() });
}

async function round(cmd: Extract<Command, { cmd: "round" }>): Promise<void> {
  const ack = new Histogram();
  sink.fanout = new Histogram();
  const cpu0 = cpuMs();
  const endAt = cmd.startAt + cmd.durationMs;
  let lastAckAt = 0;
  let sent = 0;
  await new Promise((r) => setTimeout(r, Math.max(0, cmd.startAt - nowMs())));
  const runs = writers.map(
    (client) =>
      new Promise<void>((resolve, reject) => {
        let outstanding = 0;
        const sendOne = () => {
          const seq = nextSeq.get(client.index) ?? 0;
          nextSeq.set(client.index, seq + 1);
          const at = nowMs();
          client.sendEdit(formatEdit(client.index, seq, at), at);
          outstanding++;
          sent++;
        };
        const timer = setTimeout(() => reject(new Error(`writer ${client.index}: ${outstanding} edits still unacked at the deadline`)), cmd.deadlineAt - nowMs());
        timer.unref();
        client.onAck = (sentAt) => {
          const at = nowMs();
          ack.record(at - sentAt);
          lastAckAt = Math.max(lastAckAt, at);
          outstanding--;
          if (at < endAt) sendOne();
          else if (outstanding === 0) {
            clearTimeout(timer);
            resolve();
          }
        };
        for (let i = 0; i < cmd.inFlight; i++) sendOne();
      }),
  );
  try {
    await Promise.all(runs);
  } catch (err) {
    sink.fail((err as Error).message);
    return;
  }
  const totals: Record<string, number> = {};
  for (const client of writers) totals[client.index] = nextSeq.get(client.index) ?? 0;
  send({ ev: "written", round: cmd.round, totals, sentThisRound: sent, ack: ack.toJSON(), lastAckAt, cpuMs: cpuMs() - cpu0 });
}

async function expect(cmd: Extract<Command, { cmd: "expect" }>): Promise<void> {
  const cpu0 = cpuMs();
  const complete = () => clients.every((c) => c.tracker.missing(cmd.totals).length === 0);
  // Bounded: polls until every client has every edit, or the deadline.
  while (!complete() && nowMs() < cmd.deadlineAt) await new Promise((r) => setTimeout(r, 10));
  const missing: string[] = [];
  for (const client of clients) {
    for (const m of client.tracker.missing(cmd.totals)) {
      if (missing.length < 20) missing.push(`client ${client.index} has ${m.have} of writer ${m.writer}'s ${m.want} edits`);
    }
  }
  send({ ev: "received", round: cmd.round, fanout: sink.fanout.toJSON(), missing, cpuMs: cpuMs() - cpu0 });
}

async function close(): Promise<void> {
  await Promise.all(clients.map((c) => c.close()));
  send({ ev: "closed" });
  process.disconnect?.();
}

process.on("message", (cmd: Command) => {
  const run = (): Promise<void> => {
    switch (cmd.cmd) {
      case "connect":
        return connect(cmd);
      case "prepare":
        return Promise.all(writers.map((w) => w.prepareWriter())).then(() => send({ ev: "prepared" }));
      case "round":
        return round(cmd);
      case "expect":
        return expect(cmd);
      case "close":
        return close();
    }
  };
  run().catch((err: unknown) => sink.fail(`client process: ${(err as Error).stack ?? String(err)}`));
});
process.on("disconnect", () => process.exit(0));
send({ ev: "ready" });
