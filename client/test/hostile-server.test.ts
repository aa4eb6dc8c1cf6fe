/**
 * The server is untrusted too: a buggy or foreign server (or whatever answers at the URL)
 * sends frames that break the protocol. For each, the client must not throw out of its
 * socket handlers (in Node that ends the app's process), must not apply any of the frame to
 * the replica, and must move to a clear state: close with 1002 (1009 for an oversized
 * frame) and reconnect with backoff and `since`, or `failed` for another protocol version.
 */
import WebSocket from "ws";
import { PROTOCOL_VERSION, type TxDatom, type TxEntry, type WireDatom } from "../../protocol/src/frames";
import { SCHEMA } from "../../protocol/src/attributes";
import { type SyncClient, type SyncClientError } from "../src";
import { parseServerFrame } from "../src/server-frames";
import type { WebSocketConstructor } from "../src/transport";
import { client, replicaFacts, sleep, waitFor } from "./harness";
import { type ScriptedServer, started, txsFrame } from "./scripted-server";

const T = 536870912;
const send = (ws: WebSocket, frame: unknown) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
const welcome = (ws: WebSocket, t = T) => send(ws, { type: "welcome", protocol: PROTOCOL_VERSION, session: "s1", name: "alice", t, online: 1 });
const tx = (t: number, datoms: TxDatom[] = [], author = "bob"): TxEntry => ({ t, datoms, author, time: 1 });
const BASE: WireDatom = [1, "node/title", "base", T, true];
/** The good server: a fresh client gets a snapshot holding BASE; one at since T gets nothing more. */
function goodCatchUp(ws: WebSocket, hello: Record<string, unknown>): void {
  welcome(ws);
  if (hello.since !== T) send(ws, { type: "snapshot", t: T, datoms: [BASE] });
  send(ws, { type: "synced", t: T });
}
/** A good `txs` frame in protocol 5's compact form, for the tests that break one field of it. */
const GOOD_TXS = { type: "txs", t: T + 1, time: 1, authors: ["bob"], attrs: ["node/title"], txs: [0, 0, 1, 3, 0, "x"] };
/** What the good server sends once live: the next transaction. */
const NEXT = tx(T + 1, [[2, "node/title", "next"]]);

let server: ScriptedServer;
const clients: SyncClient[] = [];
afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await server?.close();
});

function watch(c: SyncClient) {
  clients.push(c);
  const errors: SyncClientError[] = [];
  c.on("error", (e) => errors.push(e));
  // Every state the replica was ever in, so a bad frame applied then replaced would still show.
  const states: string[][] = [];
  c.on("snapshot", () => states.push(replicaFacts(c)));
  c.listen(() => states.push(replicaFacts(c)));
  return { errors, states };
}

const facts = (...datoms: Array<WireDatom | TxDatom>) => datoms.map(([e, a, v]) => JSON.stringify([e, a, v])).sort();

/**
 * Connection 1 goes live at T, then gets `bad`. Connection 2 (the client's reconnect) is
 * the good server. Checks: an error event, the client's close code, the reconnect's since,
 * and that no state of the replica ever held anything but BASE and NEXT.
 */
async function afterLive(bad: unknown[], closeCode = 1002, extra: Parameters<typeof client>[2] = {}) {
  server = await started((ws, attempt, hello) => {
    goodCatchUp(ws, hello);
    if (attempt === 1) setTimeout(() => bad.forEach((f) => send(ws, f)), 20);
    else send(ws, txsFrame(NEXT));
  });
  const c = client(server.url, "alice", { backoff: { baseMs: 20, maxMs: 200 }, ...extra });
  const { errors, states } = watch(c);
  await waitFor("the reconnect to be live with the next tx", () => server.connections === 2 && c.t === T + 1, 5000);
  expect(errors.map((e) => e.code)).toEqual(["bad_server_frame"]);
  expect(errors[0]!.closeCode).toBe(closeCode);
  expect(c.stats.closeCodes).toEqual([closeCode]);
  await waitFor("the server to see the close", () => server.closeCodes.has(1));
  expect(server.closeCodes.get(1)).toBe(closeCode);
  expect(server.frames.filter((f) => f.type === "hello").map((f) => f.since)).toEqual([undefined, T]);
  expect(replicaFacts(c)).toEqual(facts(BASE, NEXT.datoms[0]!));
  for (const s of states) expect(s.every((f) => [...facts(BASE), ...facts(NEXT.datoms[0]!)].includes(f))).toBe(true);
  expect(c.status).toBe("live");
  return { c, errors };
}

/** A datom of a `txs` frame: [e, a, v] asserted, [e, a, v, false] retracted; `rest` builds bad ones. */
const d = (e: unknown, a: unknown, v: unknown, ...rest: unknown[]) => [e, a, v, ...rest];
const txsOf = (...datoms: unknown[][]) => txsFrame({ t: T + 1, datoms, author: "bob", time: 1 });

describe("a frame that is not a protocol frame: refused whole, close 1002, reconnect with since", () => {
  test.each<[string, unknown]>([
    ["not JSON", "this is not json {"],
    ["JSON null", "null"],
    ["a JSON number", "42"],
    ["a JSON list", "[]"],
    ["no type", { t: T + 1 }],
    ["a type that is not a string", { type: 5 }],
  ])("%s", async (_, frame) => {
    await afterLive([frame]);
  });
});

describe("a known frame with a wrong field: refused whole", () => {
  test.each<[string, unknown]>([
    // Protocol 5's compact txs frame (protocol/src/txs-frame.ts); the good one is
    // { type: "txs", t: T + 1, time: 1, authors: ["bob"], attrs: ["node/title"], txs: [0, 0, 1, 3, 0, "x"] }.
    ["txs: txs is a string", { ...GOOD_TXS, txs: "abc" }],
    ["txs: an empty list", { ...GOOD_TXS, txs: [] }],
    ["txs: t is a string", { ...GOOD_TXS, t: "x" }],
    ["txs: t is missing", { ...GOOD_TXS, t: undefined }],
    ["txs: t is 0", { ...GOOD_TXS, t: 0 }],
    ["txs: time is missing", { ...GOOD_TXS, time: undefined }],
    ["txs: time is fractional", { ...GOOD_TXS, time: 1.5 }],
    ["txs: authors holds a number", { ...GOOD_TXS, authors: [7] }],
    ["txs: attrs is a string", { ...GOOD_TXS, attrs: "node/title" }],
    ["txs: an author index past the table", { ...GOOD_TXS, txs: [1, 0, 1, 3, 0, "x"] }],
    ["txs: a negative author index", { ...GOOD_TXS, txs: [-1, 0, 1, 3, 0, "x"] }],
    ["txs: an author index that is a string", { ...GOOD_TXS, txs: ["0", 0, 1, 3, 0, "x"] }],
    ["txs: a fractional time offset", { ...GOOD_TXS, txs: [0, 0.5, 1, 3, 0, "x"] }],
    ["txs: a datom count past the end", { ...GOOD_TXS, txs: [0, 0, 2, 3, 0, "x"] }],
    ["txs: a huge datom count", { ...GOOD_TXS, txs: [0, 0, 1e9, 3, 0, "x"] }],
    ["txs: a negative datom count", { ...GOOD_TXS, txs: [0, 0, -1, 3, 0, "x"] }],
    ["txs: a fractional datom count", { ...GOOD_TXS, txs: [0, 0, 0.5, 3, 0, "x"] }],
    ["txs: items left over after the last transaction", { ...GOOD_TXS, txs: [0, 0, 1, 3, 0, "x", 0] }],
    ["txs: a datom cut short", { ...GOOD_TXS, txs: [0, 0, 1, 3, 0] }],
    ["txs: an attribute index past the table", { ...GOOD_TXS, txs: [0, 0, 1, 3, 1, "x"] }],
    ["txs: an attribute index that is a name", { ...GOOD_TXS, txs: [0, 0, 1, 3, "node/title", "x"] }],
    ["txs: t past the largest integer", { ...GOOD_TXS, t: Number.MAX_SAFE_INTEGER, txs: [0, 0, 0, 0, 0, 0] }],
    ["synced: t is a string", { type: "synced", t: "now" }],
    ["ack: id is a number", { type: "ack", id: 5, t: T + 1, tempids: {} }],
    ["ack: t is negative", { type: "ack", id: "x", t: -1, tempids: {} }],
    ["ack: a tempid maps to a string", { type: "ack", id: "x", t: T + 1, tempids: { "-1": "abc" } }],
    ["rejected: no code", { type: "rejected", id: "x", message: "no" }],
    ["presence: peers is a string", { type: "presence", peers: "everyone", left: [], online: 3 }],
    ["presence: a peer's session is a number", { type: "presence", peers: [{ session: 1, name: "x", page: null, block: null }], left: [], online: 3 }],
    ["presence: left holds a number", { type: "presence", peers: [], left: [5], online: 3 }],
    ["presence: roster is a string", { type: "presence", roster: "yes", peers: [], left: [], online: 3 }],
    ["presence: no online count", { type: "presence", peers: [], left: [] }],
    ["presence: a negative online count", { type: "presence", peers: [], left: [], online: -1 }],
    ["error: code is a number", { type: "error", code: 5, message: "x" }],
    ["welcome: a second one", { type: "welcome", protocol: PROTOCOL_VERSION, session: "s2", name: "eve", t: T, online: 1 }],
    ["synced: a second one", { type: "synced", t: T }],
    ["snapshot: after synced", { type: "snapshot", t: T + 5, datoms: [[9, "node/title", "evil", T + 5, true]] }],
  ])("%s", async (_, frame) => {
    await afterLive([frame]);
  });

  test("presence is not touched by a bad presence frame", async () => {
    const seen: string[][] = [];
    server = await started((ws, attempt, hello) => {
      goodCatchUp(ws, hello);
      send(ws, { type: "presence", roster: true, peers: [{ session: "s1", name: "alice", page: null, block: null }], left: [], online: 3 });
      if (attempt === 1) setTimeout(() => send(ws, { type: "presence", peers: [{ session: "s9", name: "eve", page: null, block: null }, { session: "s8" }], left: [], online: 3 }), 20);
    });
    const c = client(server.url, "alice", { backoff: { baseMs: 20, maxMs: 200 } });
    watch(c);
    c.on("presence", (all) => seen.push(all.map((p) => p.name)));
    await waitFor("second roster", () => server.connections === 2 && c.presence.length === 1);
    expect(seen.flat()).not.toContain("eve");
  });
});

describe("datoms with bad shapes: refused whole", () => {
  test.each<[string, unknown[][]]>([
    ["an entity that is a string", [d("x", "node/title", "v")]],
    ["entity 0", [d(0, "node/title", "v")]],
    ["a fractional entity", [d(1.5, "node/title", "v")]],
    ["a retraction of a fractional entity", [d(1.5, "node/title", "v", false)]],
    ["a value that is an object", [d(1, "node/title", { evil: true })]],
    ["a value that is null", [d(1, "node/title", null)]],
    ["a value that is a list", [d(1, "node/title", ["v"])]],
    ["a ref attribute with a string value", [d(1, "block/children", "abc")]],
    ["datascript's own attribute", [d(1, ":db/ident", "x")]],
    ["an attribute that is not a name", [d(1, "", "x")]],
    ["a good datom, then a bad one: nothing of the frame", [d(3, "node/title", "good"), d(1, "node/title", ["x"])]],
  ])("%s", async (_, datoms) => {
    await afterLive([txsOf(...datoms)]);
  });

  test("a transaction datascript refuses on this replica (a unique value already held by another entity)", async () => {
    await afterLive([txsOf(d(7, "node/title", "base"))]);
  });

  test("every attribute in the schema passes the name check", () => {
    for (const a of Object.keys(SCHEMA)) {
      const v = SCHEMA[a]!.type === "ref" ? 2 : SCHEMA[a]!.type === "boolean" ? true : SCHEMA[a]!.type === "number" ? 1 : "s";
      expect(parseServerFrame(JSON.stringify(txsOf(d(1, a, v))), 1e6)).toMatchObject({ type: "txs" });
    }
  });
});

describe("t out of order: nothing applied, reconnect with since (the server then resends what is missing)", () => {
  test.each<[string, TxEntry[][]]>([
    ["a gap: t + 2 after t", [[tx(T + 2)]]],
    ["a duplicate: t again", [[tx(T)]]],
    ["t going back after t + 1", [[tx(T + 1, [[4, "node/title", "first"]])], [tx(T + 1, [[5, "node/title", "again"]])]]],
  ])("%s", async (name, frames) => {
    if (name.startsWith("t going back")) {
      // The first frame is good: it is applied, so the reconnect's since is T + 1.
      server = await started((ws, attempt, hello) => {
        if (hello.since === T + 1) {
          welcome(ws, T + 1);
          return send(ws, { type: "synced", t: T + 1 });
        }
        goodCatchUp(ws, hello);
        if (attempt === 1) setTimeout(() => frames.forEach((txs) => send(ws, txsFrame(...txs))), 20);
      });
      const c = client(server.url, "alice", { backoff: { baseMs: 20, maxMs: 200 } });
      const { errors } = watch(c);
      await waitFor("reconnect", () => server.connections === 2 && server.frames.filter((f) => f.type === "hello").length === 2);
      expect(errors.map((e) => e.code)).toEqual(["bad_server_frame"]);
      expect(errors[0]!.message).toMatch(/t went back/);
      expect(server.frames.filter((f) => f.type === "hello").map((f) => f.since)).toEqual([undefined, T + 1]);
      expect(replicaFacts(c)).toEqual(facts(BASE, [4, "node/title", "first", T + 1, true]));
      return;
    }
    const { errors } = await afterLive(frames.map((txs) => txsFrame(...txs)));
    expect(errors[0]!.message).toMatch(/gap|went back|contiguous/);
  });
});

describe("an inconsistent catch-up: the replica is never replaced by it", () => {
  /** Connection 1 gets `bad` instead of a catch-up; connection 2 the good one. */
  async function badCatchUp(bad: (ws: WebSocket) => void, message: RegExp) {
    server = await started((ws, attempt, hello) => {
      if (attempt === 1) return bad(ws);
      goodCatchUp(ws, hello);
    });
    const c = client(server.url, "alice", { backoff: { baseMs: 20, maxMs: 200 } });
    const { errors, states } = watch(c);
    await c.whenLive();
    expect(server.connections).toBe(2);
    expect(errors.map((e) => e.code)).toEqual(["bad_server_frame"]);
    expect(errors[0]!.message).toMatch(message);
    expect(c.stats.closeCodes).toEqual([1002]);
    expect(states).toEqual([facts(BASE)]); // the only state the replica was ever in
    expect(c.t).toBe(T);
  }
  const evil = (t: number): WireDatom => [9, "node/title", "evil", t, true];
  const evilTx: TxDatom = [9, "node/title", "evil"];

  test("txs before welcome", () => badCatchUp((ws) => send(ws, txsFrame(tx(T + 1, [evilTx]))), /before welcome/));
  test("a snapshot before welcome", () => badCatchUp((ws) => send(ws, { type: "snapshot", t: T, datoms: [evil(T)] }), /before welcome/));
  test("a chunk of the snapshot after its txs began", () =>
    badCatchUp((ws) => {
      welcome(ws, T + 1);
      send(ws, { type: "snapshot", t: T, datoms: [BASE] });
      send(ws, txsFrame(tx(T + 1)));
      send(ws, { type: "snapshot", t: T, datoms: [evil(T)] });
      send(ws, { type: "synced", t: T + 1 });
    }, /after the catch-up had reached/));
  test("a second snapshot older than the first (t going back)", () =>
    badCatchUp((ws) => {
      welcome(ws, T + 3);
      send(ws, { type: "snapshot", t: T + 3, datoms: [BASE] });
      send(ws, { type: "snapshot", t: T + 1, datoms: [evil(T + 1)] });
      send(ws, { type: "synced", t: T + 1 });
    }, /snapshot at t \d+ after/));
  test("txs after a snapshot that do not start right after its t", () =>
    badCatchUp((ws) => {
      welcome(ws, T + 2);
      send(ws, { type: "snapshot", t: T, datoms: [BASE] });
      send(ws, txsFrame(tx(T + 2, [evilTx])));
      send(ws, { type: "synced", t: T + 2 });
    }, /gap/));
  test("synced at a t the catch-up did not reach", () =>
    badCatchUp((ws) => {
      welcome(ws, T + 5);
      send(ws, { type: "snapshot", t: T, datoms: [BASE, evil(T)] });
      send(ws, { type: "synced", t: T + 5 });
    }, /synced at t \d+, but the catch-up reached/));
  test("a retraction in a snapshot", () =>
    badCatchUp((ws) => {
      welcome(ws);
      send(ws, { type: "snapshot", t: T, datoms: [BASE, [9, "node/title", "evil", T, false]] });
      send(ws, { type: "synced", t: T });
    }, /retraction/));
  test("a snapshot datom from after the snapshot's t", () =>
    badCatchUp((ws) => {
      welcome(ws);
      send(ws, { type: "snapshot", t: T, datoms: [BASE, evil(T + 4)] });
      send(ws, { type: "synced", t: T });
    }, /later tx/));

  test("a legal restart: the server starts over with a newer snapshot after its log moved on", async () => {
    server = await started((ws) => {
      welcome(ws, T + 6);
      send(ws, { type: "snapshot", t: T + 1, datoms: [[1, "node/title", "old", T + 1, true]] });
      send(ws, txsFrame(tx(T + 2, [[2, "node/title", "two"]])));
      send(ws, { type: "snapshot", t: T + 5, datoms: [[1, "node/title", "new", T + 5, true]] });
      send(ws, { type: "snapshot", t: T + 5, datoms: [[2, "node/title", "two", T + 2, true]] });
      send(ws, txsFrame(tx(T + 6, [[3, "node/title", "six"]])));
      send(ws, { type: "synced", t: T + 6 });
    });
    const c = client(server.url, "alice");
    const { errors } = watch(c);
    await c.whenLive();
    expect(errors).toEqual([]);
    expect(replicaFacts(c)).toEqual(facts([1, "node/title", "new", T + 5, true], [2, "node/title", "two", T + 2, true], [3, "node/title", "six", T + 6, true]));
    expect(c.t).toBe(T + 6);
  });
});

describe("a huge frame", () => {
  const huge = () => txsOf(d(3, "block/string", "x".repeat(200 * 1024)));
  /** A transaction in flight when the huge frame arrives must not be taken for the culprit (as a server's 1009 would mean). */
  async function hugeFrame(extra: Parameters<typeof client>[2]) {
    server = await started((ws, attempt, hello) => {
      goodCatchUp(ws, hello);
      ws.on("message", (data) => {
        const msg = JSON.parse(data.toString());
        if (msg.type !== "transact") return;
        if (attempt === 1) return send(ws, huge()); // instead of the ack
        send(ws, { type: "ack", id: msg.id, t: T + 1, tempids: { "-1": 4 } });
        send(ws, txsFrame(tx(T + 1, [[4, "block/string", "mine"]], "alice")));
      });
    });
    const c = client(server.url, "alice", { backoff: { baseMs: 20, maxMs: 200 }, maxFrameBytes: 64 * 1024, ...extra });
    const { errors } = watch(c);
    await c.whenLive();
    const ack = await c.transact([{ ":db/id": -1, "block/string": "mine" }]);
    expect(ack).toMatchObject({ t: T + 1, tempids: { "-1": 4 } });
    expect(server.connections).toBe(2);
    expect(errors.map((e) => [e.code, e.closeCode])).toEqual([["bad_server_frame", 1009]]);
    expect(c.stats.closeCodes).toEqual([1009]);
    expect(replicaFacts(c)).toEqual(facts(BASE, [4, "block/string", "mine", T + 1, true]));
  }

  test("over maxFrameBytes in Node: ws stops reading it; close 1009, reconnect, the in-flight transaction is resent, not dropped", () => hugeFrame({}));

  test("over maxFrameBytes where the runtime has no read limit (a browser): refused before parsing, same outcome", () => {
    // A WebSocket that ignores maxPayload (ws's own default is 100 MiB), like a browser's.
    const Unlimited = class extends WebSocket {
      constructor(url: string, options: { headers?: Record<string, string>; maxPayload?: number } = {}) {
        super(url, { ...options, maxPayload: 0 });
      }
    };
    return hugeFrame({ WebSocket: Unlimited as unknown as WebSocketConstructor });
  });
});

describe("frames a newer or confused server may send that are not errors", () => {
  test("an ack for an id this client never sent, and a frame type it does not know: ignored, still live", async () => {
    server = await started((ws, _attempt, hello) => {
      goodCatchUp(ws, hello);
      setTimeout(() => {
        send(ws, { type: "ack", id: "nobody-sent-this", t: T + 1, tempids: {} });
        send(ws, { type: "rejected", id: "nor-this", code: "tx_failed", message: "no" });
        send(ws, { type: "frame_from_the_future", payload: [1, 2, 3] });
        send(ws, txsFrame(NEXT));
      }, 20);
    });
    const c = client(server.url, "alice");
    const { errors } = watch(c);
    await waitFor("next tx", () => c.t === T + 1);
    await sleep(50);
    expect(errors).toEqual([]);
    expect(server.connections).toBe(1);
    expect(c.status).toBe("live");
    expect(c.pending).toBe(0);
  });
});

describe("another protocol version", () => {
  test.each([PROTOCOL_VERSION + 1, PROTOCOL_VERSION - 1])("welcome with protocol %i: failed with unsupported_protocol, close 1002, no retry", async (version) => {
    server = await started((ws) => {
      send(ws, { type: "welcome", protocol: version, session: "s1", name: "alice", t: T, online: 1 });
      send(ws, { type: "snapshot", t: T, datoms: [BASE] });
      send(ws, { type: "synced", t: T });
    });
    const c = client(server.url, "alice", { backoff: { baseMs: 20, maxMs: 200 } });
    const { states } = watch(c);
    const pending = c.transact([{ ":db/id": -1, "block/uid": "x" }]);
    await expect(c.whenLive()).rejects.toMatchObject({ code: "unsupported_protocol", closeCode: 1002 });
    await expect(pending).rejects.toMatchObject({ code: "unsupported_protocol" });
    expect(c.status).toBe("failed");
    expect(c.error?.message).toContain(`protocol ${version}`);
    expect(c.error?.message).toContain(version > PROTOCOL_VERSION ? "upgrade the client" : "upgrade the server");
    await waitFor("the server to see the close", () => server.closeCodes.has(1));
    expect(server.closeCodes.get(1)).toBe(1002);
    await sleep(300); // many backoffs' worth: no second connection
    expect(server.connections).toBe(1);
    expect(states).toEqual([]);
    expect(c.t).toBe(0);
  });
});

describe("a server that keeps breaking the protocol", () => {
  test("is retried with a growing backoff, not in a tight loop, though each connection reached live", async () => {
    server = await started((ws, _attempt, hello) => {
      goodCatchUp(ws, hello);
      send(ws, "garbage");
    });
    const c = client(server.url, "alice", { backoff: { baseMs: 40, maxMs: 10_000 }, random: () => 1 });
    watch(c);
    const hellos = () => server.frames.filter((f) => f.type === "hello");
    // Five hellos, not five connections: the server counts a connection at the upgrade, and
    // the client's hello on it arrives a moment later (CI once read the frames in between).
    await waitFor("five hellos", () => hellos().length >= 5, 5000);
    c.close();
    const gaps = server.openedAt.slice(1, 5).map((at, i) => at - server.openedAt[i]!);
    // Backoff attempt n waits base * 2^(n-1) with random() = 1: 40, 80, 160, 320 ms at least.
    [40, 80, 160, 320].forEach((ms, i) => expect(gaps[i]).toBeGreaterThanOrEqual(ms - 5));
    expect(hellos().slice(1, 5).map((f) => f.since)).toEqual([T, T, T, T]);
  });
});

describe("repeated rate_limited errors (found by a hostile review)", () => {
  test("ten rate_limited frames in a row make each pending transaction go out at most twice, not eleven times", async () => {
    const PENDING = 20;
    const ERRORS = 10;
    const sockets: WebSocket[] = [];
    server = await started((ws, _attempt, hello) => {
      sockets.push(ws);
      goodCatchUp(ws, hello);
    });
    const c = client(server.url, "alice", { maxMessagesPerSecond: 1000 });
    clients.push(c);
    // Queued before the connection is live; never acked by this server.
    for (let i = 0; i < PENDING; i++) void c.transact([{ "block/uid": `b${i}`, "block/string": `x${i}` }]).catch(() => undefined);
    const transacts = () => server.frames.filter((f) => f.type === "transact");
    await waitFor("the first sends", () => transacts().length >= PENDING, 5000);
    // The server complains ERRORS times in one burst (it says nothing about which frame it dropped).
    for (let i = 0; i < ERRORS; i++) send(sockets[0]!, { type: "error", code: "rate_limited", message: "too many messages; slow down" });
    // The resend comes RATE_LIMITED_RESEND_MS (1 s) after the errors; then a pause in which a third copy would show.
    await waitFor("the resends", () => transacts().length >= PENDING * 2, 5000);
    await sleep(1500);
    const perId = new Map<string, number>();
    for (const f of transacts()) perId.set(f.id as string, (perId.get(f.id as string) ?? 0) + 1);
    const queued = (c as unknown as { sendQueue: unknown[] }).sendQueue.length;
    // One resend after the pause is the documented behaviour; ERRORS + 1 copies of each is an amplification.
    expect({ sentFrames: transacts().length, worstCopiesOfOneId: Math.max(...perId.values()), stillQueued: queued }).toEqual({ sentFrames: PENDING * 2, worstCopiesOfOneId: 2, stillQueued: 0 });
  });
});

describe("a server that drops every connection right after synced (found by a hostile review)", () => {
  test("is retried with a growing backoff, not every baseMs", async () => {
    server = await started((ws, _attempt, hello) => {
      goodCatchUp(ws, hello);
      setTimeout(() => ws.close(1011, "internal error"), 5);
    });
    const c = client(server.url, "alice", { backoff: { baseMs: 40, maxMs: 10_000 }, random: () => 1 });
    clients.push(c);
    // The backoff alone is 5.08 s; the bound leaves a loaded machine room.
    await waitFor("eight connections", () => server.connections >= 8, 15_000);
    c.close();
    const gaps = server.openedAt.slice(1, 8).map((at, i) => at - server.openedAt[i]!);
    // A growing backoff: 40, 80, ... 2,560 ms (the count resets only after a minute live).
    expect(gaps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(40 + 80 + 160 + 320 + 640 + 1280 + 2560 - 50);
  });
});
