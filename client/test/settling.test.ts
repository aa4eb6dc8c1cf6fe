/**
 * Every promise the client hands out settles, whatever the server or the app's own
 * listeners do; a closed client stays closed; a listener's throw never ends the process.
 * Each case was found by a hostile review (a scripted server, or an app closing the client
 * from inside its own listener) and fails on the client before it.
 */
import WebSocket from "ws";
import { PROTOCOL_VERSION } from "../../protocol/src/frames";
import { type SyncClient, connect, memoryPersistence } from "../src";
import type { WebSocketConstructor } from "../src/transport";
import { sleep, waitFor } from "./harness";
import { type ScriptedServer, started } from "./scripted-server";

const T = 536870912;
const send = (ws: WebSocket, frame: unknown) => ws.send(JSON.stringify(frame));
const welcome = (ws: WebSocket, online = 1) => send(ws, { type: "welcome", protocol: PROTOCOL_VERSION, session: "s1", name: "alice", t: T, online });
/** A fresh client gets an empty snapshot; one with since gets nothing more. */
function catchUp(ws: WebSocket, hello: Record<string, unknown>): void {
  welcome(ws);
  if (hello.since === undefined) send(ws, { type: "snapshot", t: T, datoms: [[1, "node/title", "base", T, true]] });
  send(ws, { type: "synced", t: T });
}

let server: ScriptedServer | undefined;
const clients: SyncClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await server?.close();
  server = undefined;
});

function open(url: string, extra: Record<string, unknown> = {}): SyncClient {
  const c = connect({ url, name: "alice", WebSocket: WebSocket as unknown as WebSocketConstructor, backoff: { baseMs: 20, maxMs: 40 }, ...extra });
  clients.push(c);
  return c;
}

/** Watches a promise from the moment it is made (so a rejection is never unhandled). */
function track(p: Promise<unknown>): { state: string } {
  const seen = { state: "pending" };
  p.then(
    () => (seen.state = "resolved"),
    (err: { code?: string }) => (seen.state = `rejected ${err.code}`),
  );
  return seen;
}

/** The promise's state after the microtasks and timers now due. */
async function state(p: Promise<unknown> | { state: string }): Promise<string> {
  const seen = p instanceof Promise ? track(p) : p;
  await sleep(20);
  return seen.state;
}

describe("promises settle", () => {
  test("transact() on a failed client rejects at once with the failure", async () => {
    server = await started((ws) => ws.close(1008, "go away"));
    const c = open(server.url);
    await waitFor("failed", () => c.status === "failed");
    expect(await state(c.transact([{ "node/title": "x" }]))).toBe("rejected policy_violation");
    expect(c.pending).toBe(0);
  });

  test("a jwt callback that throws on a reconnect fails the client and rejects what was queued", async () => {
    let calls = 0;
    server = await started((ws, attempt, hello) => {
      catchUp(ws, hello);
      if (attempt === 1) setTimeout(() => ws.close(1012, "restart"), 20);
    });
    const c = open(server.url, {
      jwt: () => {
        if (++calls > 1) throw new Error("refresh failed");
        return "jwt";
      },
    });
    await c.whenLive();
    const made = track(c.transact([{ "node/title": "x" }]));
    await waitFor("failed", () => c.status === "failed");
    expect(await state(made)).toBe("rejected bad_jwt");
    expect(c.pending).toBe(0);
  });

  test("a URL the WebSocket refuses fails the client and rejects what was made before", async () => {
    const c = open("not a url");
    const made = track(c.transact([{ "node/title": "x" }]));
    await waitFor("failed", () => c.status === "failed");
    expect(await state(made)).toBe("rejected policy_violation");
  });

  test("whenLive() rejects with closed when the client is closed while offline, and at once after", async () => {
    server = await started((ws) => ws.close(1011));
    const c = open(server.url);
    await waitFor("offline", () => c.status === "offline");
    const waiting = track(c.whenLive());
    c.close();
    expect(await state(waiting)).toBe("rejected closed");
    expect(await state(c.whenLive())).toBe("rejected closed");
  });

  test("an ack beyond the t the server is synced at after a reconnect settles instead of waiting forever", async () => {
    server = await started((ws, _attempt, hello) => {
      catchUp(ws, hello);
      ws.on("message", (data) => {
        const msg = JSON.parse(String(data)) as { type: string; id: string };
        if (msg.type !== "transact") return;
        // Acked at T + 5, then the server restarts having lost it (an older backup).
        send(ws, { type: "ack", id: msg.id, t: T + 5, tempids: {} });
        setTimeout(() => ws.close(1012, "restart"), 20);
      });
    });
    const c = open(server.url);
    await c.whenLive();
    const made = track(c.transact([{ "node/title": "x" }]));
    await waitFor("reconnected", () => server!.connections >= 2 && c.status === "live");
    expect(await state(made)).toBe("resolved");
    expect(c.t).toBe(T);
  });
});

describe("an app closing the client from its own listeners", () => {
  test("close() in a snapshot listener: the client stays closed and saves nothing more", async () => {
    server = await started((ws, _attempt, hello) => catchUp(ws, hello));
    const persist = memoryPersistence();
    let saves = 0;
    const save = persist.saveReplica.bind(persist);
    persist.saveReplica = (...args) => {
      saves++;
      return save(...args);
    };
    const c = open(server.url, { persist });
    const statuses: string[] = [];
    c.on("status", (s) => statuses.push(s));
    c.on("snapshot", () => c.close());
    await sleep(800);
    expect(statuses).not.toContain("live");
    expect(c.status).toBe("offline");
    expect(saves).toBeLessThanOrEqual(1); // close() flushes once; nothing after persist.close()
  });

  test("close() in a connecting listener opens no socket", async () => {
    server = await started((ws) => ws.close(1011));
    const c = open(server.url);
    let connecting = 0;
    c.on("status", (s) => {
      if (s === "connecting" && ++connecting === 3) c.close();
    });
    await waitFor("closed", () => connecting === 3);
    await sleep(300);
    // The first attempt starts in "connecting" (no event): the third event is the fourth attempt's.
    expect(server.connections).toBe(3);
    expect(server.wss.clients.size).toBe(0);
  });

  test("close() in an offline listener leaves no reconnect timer behind", async () => {
    server = await started((ws) => ws.close(1011));
    const c = open(server.url, { backoff: { baseMs: 300, maxMs: 300 } });
    c.on("status", (s) => {
      if (s === "offline") c.close();
    });
    await waitFor("offline", () => c.status === "offline");
    // A timer left behind keeps a Node process alive for the whole backoff (up to 30 s).
    expect((c as unknown as { timers: Set<unknown> }).timers.size).toBe(0);
    await sleep(400);
    expect(server.connections).toBe(1);
  });
});

describe("listeners and bounds", () => {
  test("a listener that throws becomes an error event; the client goes on", async () => {
    server = await started((ws, _attempt, hello) => {
      catchUp(ws, hello);
      setTimeout(() => send(ws, { type: "txs", t: T + 1, time: 1, authors: ["bob"], attrs: ["node/title"], txs: [0, 0, 1, 2, 0, "next"] }), 50);
    });
    const c = open(server.url);
    const errors: string[] = [];
    c.on("error", (err) => errors.push(err.code));
    c.listen(() => {
      throw new Error("app bug");
    });
    await waitFor("next tx", () => c.t === T + 1);
    expect(errors).toEqual(["listener_failed"]);
    expect(c.status).toBe("live");
  });

  test("a presence frame listing more people than are online is a protocol violation", async () => {
    server = await started((ws, attempt, hello) => {
      catchUp(ws, hello);
      if (attempt > 1) return;
      const peers = Array.from({ length: 50 }, (_, i) => ({ session: `p${i}`, name: `p${i}`, page: null, block: null }));
      setTimeout(() => send(ws, { type: "presence", peers, left: [], online: 2 }), 50);
    });
    const c = open(server.url);
    await waitFor("reconnected", () => server!.connections >= 2 && c.status === "live");
    expect(server.closeCodes.get(1)).toBe(1002);
    expect(c.presence.length).toBe(0);
  });

  test("a restored queue goes before a transaction made while it was loading", async () => {
    const persist = memoryPersistence();
    const first = open("ws://127.0.0.1:1/ws", { persist });
    const a = first.transact([{ "node/title": "A" }]);
    const b = first.transact([{ "node/title": "B" }]);
    await waitFor("persisted", () => persist.state.outbox.size === 2);
    first.close();
    await Promise.allSettled([a, b]);
    server = await started((ws, _attempt, hello) => catchUp(ws, hello));
    const second = open(server.url, { persist });
    void second.transact([{ "node/title": "C" }]).catch(() => undefined);
    await waitFor("three sent", () => server!.frames.filter((f) => f.type === "transact").length === 3);
    const order = server.frames.filter((f) => f.type === "transact").map((f) => (f.tx as Array<{ "node/title": string }>)[0]!["node/title"]);
    expect(order).toEqual(["A", "B", "C"]);
  });

  test("a catch-up past maxCatchUpBytes without synced is a protocol violation: dropped, closed 1002, retried", async () => {
    const chunk = Array.from({ length: 200 }, (_, i) => [i + 1, "node/title", "x".repeat(40), T, true]);
    server = await started((ws, attempt, hello) => {
      if (attempt > 1) return catchUp(ws, hello);
      // Snapshot chunks and never synced: what a hostile server would hold a client with.
      welcome(ws);
      for (let k = 0; k < 40; k++) send(ws, { type: "snapshot", t: T, datoms: chunk });
    });
    const c = open(server.url, { maxCatchUpBytes: 100_000 });
    const errors: string[] = [];
    c.on("error", (err) => errors.push(err.message));
    await c.whenLive();
    expect(server.closeCodes.get(1)).toBe(1002);
    expect(errors.some((m) => m.includes("maxCatchUpBytes (100000)"))).toBe(true);
    expect(c.datoms().length).toBe(1); // the second connection's snapshot, nothing of the first
  });

  test("a catch-up that stalls after welcome is dropped (4000) and retried", async () => {
    server = await started((ws, attempt, hello) => {
      if (attempt === 1) return welcome(ws); // and then nothing
      catchUp(ws, hello);
    });
    const c = open(server.url, { catchUpStallMs: 200 });
    await c.whenLive();
    expect(server.closeCodes.get(1)).toBe(4000);
  });

  test("stats.closeCodes keeps the last 100", async () => {
    server = await started((ws) => ws.close(1011));
    const c = open(server.url, { backoff: { baseMs: 1, maxMs: 2 } });
    await waitFor("many reconnects", () => server!.connections > 120);
    expect(c.stats.closeCodes.length).toBe(100);
  });
});
