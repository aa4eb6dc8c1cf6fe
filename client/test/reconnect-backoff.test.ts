/**
 * A server that completes the handshake and then drops every connection at once (a crash
 * loop right after catch-up, or a hostile endpoint): `synced` resets the backoff's attempt
 * count, so the client reconnects every `baseMs` forever. Only protocol violations raise a
 * floor (strikes); a clean close or 1011 after `synced` never does.
 */
import WebSocket from "ws";
import { PROTOCOL_VERSION, type WireDatom } from "../../protocol/src/frames";
import type { SyncClient } from "../src";
import { client, waitFor } from "./harness";
import { type ScriptedServer, started } from "./scripted-server";

const T = 536870912;
const BASE: WireDatom = [1, "node/title", "base", T, true];
const send = (ws: WebSocket, frame: unknown) => ws.send(JSON.stringify(frame));

let server: ScriptedServer;
let c: SyncClient | undefined;
afterEach(async () => {
  c?.close();
  await server?.close();
});

describe("a server that drops every connection right after synced (found by a hostile review)", () => {
  test("is retried with a growing backoff, not every baseMs", async () => {
    server = await started((ws, _attempt, hello) => {
      send(ws, { type: "welcome", protocol: PROTOCOL_VERSION, session: "s1", name: "alice", t: T, online: 1 });
      if (hello.since !== T) send(ws, { type: "snapshot", t: T, datoms: [BASE] });
      send(ws, { type: "synced", t: T });
      setTimeout(() => ws.close(1011, "internal error"), 5);
    });
    c = client(server.url, "alice", { backoff: { baseMs: 40, maxMs: 10_000 }, random: () => 1 });
    await waitFor("eight connections", () => server.connections >= 8, 8000);
    c.close();
    const gaps = server.openedAt.slice(1, 8).map((at, i) => at - server.openedAt[i]!);
    // With a growing backoff the 7th gap alone would be >= 40 * 2^6 = 2560 ms; all 7 took this long:
    const total = gaps.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThanOrEqual(40 + 80 + 160 + 320 + 640 + 1280 + 2560 - 50);
  });
});
