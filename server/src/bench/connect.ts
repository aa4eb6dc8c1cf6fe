import WebSocket from "ws";
import { PROTOCOL_VERSION } from "../../../protocol/src";

export interface ConnectResult {
  readonly sockets: WebSocket[];
  /** From the first connect to the last `synced`. */
  readonly ms: number;
}

/**
 * Opens `count` clients against url, at most `concurrency` handshakes at a time, each
 * sending hello and waiting for `synced`. Frames after that are counted, not parsed, so
 * the harness measures the server rather than its own JSON parsing.
 */
export async function connectMany(url: string, count: number, opts: { concurrency?: number; token?: string; timeoutMs?: number; protocol?: number } = {}): Promise<ConnectResult> {
  const concurrency = opts.concurrency ?? 200;
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const sockets: WebSocket[] = [];
  const started = performance.now();
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(url, { headers: opts.token ? { authorization: `Bearer ${opts.token}` } : {} });
      sockets.push(ws);
      const timer = setTimeout(() => reject(new Error(`client ${i} not synced after ${timeoutMs} ms`)), timeoutMs);
      ws.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once("close", (code) => {
        clearTimeout(timer);
        reject(new Error(`client ${i} closed with ${code} before synced`));
      });
      ws.once("open", () => ws.send(JSON.stringify({ type: "hello", protocol: opts.protocol ?? PROTOCOL_VERSION, name: `idle-${i}` })));
      const onMessage = (data: WebSocket.RawData) => {
        const buf = data as Buffer;
        if (buf.length < 64 && buf.toString().startsWith('{"type":"synced"')) {
          clearTimeout(timer);
          ws.off("message", onMessage);
          ws.removeAllListeners("close");
          ws.on("error", () => undefined);
          resolve();
        }
      };
      ws.on("message", onMessage);
    });
  const lanes = Array.from({ length: Math.min(concurrency, count) }, async () => {
    while (next < count) await one(next++);
  });
  await Promise.all(lanes);
  return { sockets, ms: performance.now() - started };
}

export async function closeAll(sockets: readonly WebSocket[]): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve();
          ws.once("close", () => resolve());
          ws.terminate();
        }),
    ),
  );
}
