/**
 * A server (hostile, or confused) that answers `rate_limited` several times in a row: each
 * error arms its own "resend every unacked transaction after 1 s" timer, and each resend
 * pushes every outbox entry into the send queue again, whether or not it is still queued.
 * K small error frames make the client send each pending transaction K+1 times.
 */
import WebSocket from "ws";
import { PROTOCOL_VERSION, type WireDatom } from "../../protocol/src/frames";
import type { SyncClient } from "../src";
import { client, sleep, waitFor } from "./harness";
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

describe("repeated rate_limited errors (found by a hostile review)", () => {
  test("ten rate_limited frames in a row make each pending transaction go out at most twice, not eleven times", async () => {
    const PENDING = 20;
    const ERRORS = 10;
    let sockets: WebSocket[] = [];
    server = await started((ws) => {
      sockets.push(ws);
      send(ws, { type: "welcome", protocol: PROTOCOL_VERSION, session: "s1", name: "alice", t: T, online: 1 });
      send(ws, { type: "snapshot", t: T, datoms: [BASE] });
      send(ws, { type: "synced", t: T });
    });
    c = client(server.url, "alice", { maxMessagesPerSecond: 1000 });
    // Queued before the connection is live; never acked by this server.
    for (let i = 0; i < PENDING; i++) void c.transact([{ "block/uid": `b${i}`, "block/string": `x${i}` }]).catch(() => undefined);
    const transacts = () => server.frames.filter((f) => f.type === "transact");
    await waitFor("the first sends", () => transacts().length >= PENDING, 5000);
    // The server complains ERRORS times in one burst (it says nothing about which frame it dropped).
    for (let i = 0; i < ERRORS; i++) send(sockets[0]!, { type: "error", code: "rate_limited", message: "too many messages; slow down" });
    await sleep(2500);
    const perId = new Map<string, number>();
    for (const f of transacts()) perId.set(f.id as string, (perId.get(f.id as string) ?? 0) + 1);
    const worst = Math.max(...perId.values());
    const queued = (c as unknown as { sendQueue: string[] }).sendQueue.length;
    // One resend after the pause is the documented behaviour; ERRORS + 1 copies of each is an amplification.
    expect({ sentFrames: transacts().length, worstCopiesOfOneId: worst, stillQueued: queued }).toEqual({ sentFrames: PENDING * 2, worstCopiesOfOneId: 2, stillQueued: 0 });
    sockets = [];
  });
});
