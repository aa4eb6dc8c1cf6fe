import WebSocket from "ws";
import type { EditTracker } from "../edits.ts";
import type { Histogram } from "../histogram.ts";

/** Where a client reports what it sees; owned by the client process, reset per round. */
export interface Sink {
  /** Edit sent → received here, for edits of other writers. */
  fanout: Histogram;
  /** Something broke: a lost or duplicated edit, a rejected edit, an unexpected close. */
  fail(message: string): void;
}

/** One simulated user: a socket speaking one server's protocol. */
export interface BenchClient {
  readonly index: number;
  readonly tracker: EditTracker;
  /** Opens the socket; resolves once the initial state is in (ours: `synced`; Hocuspocus: SyncStep2). */
  connect(): Promise<void>;
  /** Writers only: whatever must exist before the first edit (ours: the writer's own block). */
  prepareWriter(): Promise<void>;
  /** Sends one edit. The client calls onAck(sentAt) when the server acknowledges it. */
  sendEdit(payload: string, sentAt: number): void;
  onAck: (sentAt: number) => void;
  close(): Promise<void>;
}

export interface ClientOptions {
  readonly index: number;
  readonly url: string;
  readonly sink: Sink;
  readonly tracker: EditTracker;
}

/** Closes a client socket: a normal close, cut off after 5 s if the server never answers. */
export function closeSocket(ws: WebSocket | undefined): Promise<void> {
  if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      ws.terminate();
      resolve();
    }, 5000);
    ws.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    ws.close(1000);
  });
}
