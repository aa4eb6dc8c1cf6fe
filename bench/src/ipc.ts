/**
 * Messages between the orchestrator and a client process (over the fork IPC channel).
 * Times are on the shared monotonic clock (clock.ts).
 */
import type { EditMode } from "./clients/hocuspocus.ts";
import type { HistogramData } from "./histogram.ts";

export type ServerKind = "ours" | "hocuspocus";

export type Command =
  | {
      cmd: "connect";
      kind: ServerKind;
      url: string;
      /** Our protocol version (ours only). */
      protocol: number;
      /** What a Hocuspocus writer's edit does to its text (hocuspocus only). */
      hocuspocusEdit: EditMode;
      /** The client indexes this process hosts; indexes below `writers` are writers. */
      clients: number[];
      writers: number;
      /** At most this many handshakes outstanding at once in this process. */
      concurrency: number;
      deadlineAt: number;
    }
  | { cmd: "prepare" }
  | { cmd: "round"; round: number; startAt: number; durationMs: number; inFlight: number; deadlineAt: number }
  | { cmd: "expect"; round: number; totals: Record<string, number>; deadlineAt: number }
  | { cmd: "close" };

export type Report =
  | { ev: "ready" }
  | { ev: "connected"; connected: number; failed: number; firstError: string | null; doneAt: number }
  | { ev: "prepared" }
  | {
      ev: "written";
      round: number;
      /** Per writer index: how many edits it has sent in total, all acked. */
      totals: Record<string, number>;
      sentThisRound: number;
      ack: HistogramData;
      lastAckAt: number;
      cpuMs: number;
    }
  | { ev: "received"; round: number; fanout: HistogramData; missing: string[]; cpuMs: number }
  | { ev: "failed"; errors: string[] }
  | { ev: "closed" };
