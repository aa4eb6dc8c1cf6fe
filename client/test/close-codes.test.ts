/**
 * The state machine's transition for each close code, chunked snapshots, batched txs and
 * coalesced presence (protocol v3), against a scripted WebSocket server (scripted-server.ts).
 */
import type { WebSocket } from "ws";
import { PROTOCOL_VERSION, type TxDatom, type TxEntry, type WireDatom } from "../../protocol/src/frames";
import { type Status, type SyncClient, backoffDelay, closeAction, memoryPersistence } from "../src";
import { client, sleep, waitFor } from "./harness";
import { type ScriptedServer, started, txsFrame } from "./scripted-server";

const welcome = (ws: WebSocket, t = 536870912, online = 1) => {
  ws.send(JSON.stringify({ type: "welcome", protocol: PROTOCOL_VERSION, session: "s1", name: "alice", t, online }));
};
const tx = (t: number, datoms: TxDatom[] = [], author = "x"): TxEntry => ({ t, datoms, author, time: 0 });
const txs = (ws: WebSocket, ...entries: TxEntry[]) => ws.send(JSON.stringify(txsFrame(...entries)));
const live = (ws: WebSocket, t = 536870912) => {
  welcome(ws, t);
  ws.send(JSON.stringify({ type: "snapshot", t, datoms: [] }));
  ws.send(JSON.stringify({ type: "synced", t }));
};

describe("close codes: each one's transition", () => {
  let server: ScriptedServer;
  const clients: SyncClient[] = [];
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server.close();
  });

  function track(c: SyncClient): Status[] {
    const seen: Status[] = [c.status];
    c.on("status", (s) => seen.push(s));
    clients.push(c);
    return seen;
  }

  test.each([
    [1008, "unauthorized"],
    [1008, "bad_jwt"],
    [1002, "unsupported_protocol"],
  ])("%i (%s): failed, with the server's code, and no second connection", async (code, errorCode) => {
    server = await started((ws) => {
      ws.send(JSON.stringify({ type: "error", code: errorCode, message: "no" }));
      ws.close(code, errorCode);
    });
    const c = client(server.url, "alice");
    const seen = track(c);
    const pending = c.transact([{ ":db/id": -1, "block/uid": "x" }]);
    await expect(c.whenLive()).rejects.toMatchObject({ code: errorCode, closeCode: code });
    await expect(pending).rejects.toMatchObject({ code: errorCode });
    expect(seen).toEqual(["connecting", "failed"]);
    expect(c.error?.message).toContain(String(code));
    await sleep(600); // several backoffs' worth: nothing more
    expect(server.connections).toBe(1);
  });

  test.each([1012, 1011, 1001, 1000, 4000])("%i: offline, then reconnects with since", async (code) => {
    server = await started((ws, attempt) => {
      live(ws, 536870920);
      if (attempt === 1) setTimeout(() => ws.close(code, "bye"), 20);
    });
    const c = client(server.url, "alice");
    const seen = track(c);
    await waitFor("second connection live", () => server.connections === 2 && c.status === "live");
    expect(seen).toEqual(["connecting", "catching-up", "live", "offline", "connecting", "catching-up", "live"]);
    const hellos = server.frames.filter((f) => f.type === "hello");
    expect(hellos[0]!.since).toBeUndefined();
    expect(hellos[1]!.since).toBe(536870920);
  });

  test("1006 (the server vanished without a close frame): offline, then reconnects", async () => {
    server = await started((ws, attempt) => {
      live(ws);
      if (attempt === 1) setTimeout(() => ws.terminate(), 20);
    });
    const c = client(server.url, "alice");
    track(c);
    await waitFor("second connection live", () => server.connections === 2 && c.status === "live");
    expect(c.stats.closeCodes).toEqual([1006]);
  });

  test("1013 (server full): retries, but only after a longer wait", async () => {
    const times: number[] = [];
    server = await started((ws, attempt) => {
      times.push(Date.now());
      if (attempt === 1) return ws.close(1013, "full");
      live(ws);
    });
    const c = client(server.url, "alice", { backoff: { baseMs: 100, maxMs: 5000 } });
    track(c);
    await c.whenLive();
    // attempt 4 of base 100: at least 400 ms (half of 800), where a 1012 would wait 50-100 ms.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(380);
  });

  test("1009 (frame too big): the largest in-flight transaction is rejected, the rest are resent", async () => {
    server = await started((ws, attempt) => {
      live(ws);
      ws.on("message", (data) => {
        const msg = JSON.parse(data.toString());
        if (msg.type !== "transact") return;
        if (attempt === 1 && data.toString().length > 5000) return ws.close(1009, "too big");
        ws.send(JSON.stringify({ type: "ack", id: msg.id, t: 536870913, tempids: {} }));
        txs(ws, tx(536870913, [], "alice"));
      });
    });
    const c = client(server.url, "alice");
    track(c);
    await c.whenLive();
    const big = c.transact([{ ":db/id": -1, "block/string": "x".repeat(10_000) }]);
    const small = c.transact([{ ":db/id": -1, "block/string": "y" }]);
    await expect(big).rejects.toMatchObject({ code: "frame_too_big", closeCode: 1009 });
    await expect(small).resolves.toMatchObject({ t: 536870913 });
  });

  test("a snapshot in chunks replaces the replica only when synced arrives; a drop mid-snapshot keeps the old replica", async () => {
    const t = 536870930;
    server = await started((ws, attempt) => {
      welcome(ws, t);
      if (attempt === 1) {
        ws.send(JSON.stringify({ type: "snapshot", t: 536870913, datoms: [[1, "node/title", "old", 536870913, true]] }));
        ws.send(JSON.stringify({ type: "synced", t: 536870913 }));
        setTimeout(() => ws.close(1012, "restart"), 30);
      } else if (attempt === 2) {
        ws.send(JSON.stringify({ type: "snapshot", t, datoms: [[2, "node/title", "A", t, true]] }));
        setTimeout(() => ws.terminate(), 30); // gone before the second chunk
      } else {
        ws.send(JSON.stringify({ type: "snapshot", t, datoms: [[2, "node/title", "A", t, true]] }));
        ws.send(JSON.stringify({ type: "snapshot", t, datoms: [[3, "node/title", "B", t, true], [3, "block/children", 2, t, true]] }));
        ws.send(JSON.stringify({ type: "synced", t }));
      }
    });
    const c = client(server.url, "alice");
    track(c);
    const titles = () => c.q<string[][]>('[:find ?t :where [_ "node/title" ?t]]').map((r) => r[0]).sort();
    await waitFor("first snapshot", () => c.t === 536870913);
    expect(titles()).toEqual(["old"]);
    await waitFor("second connection dropped", () => server.connections >= 2 && c.stats.closeCodes.length >= 2);
    expect(titles()).toEqual(["old"]);
    expect(c.t).toBe(536870913);
    await waitFor("third connection live", () => server.connections === 3 && c.status === "live");
    expect(titles()).toEqual(["A", "B"]);
    expect(c.q('[:find ?c . :where [?p "node/title" "B"] [?p "block/children" ?c]]')).toBe(2);
    expect(c.t).toBe(t);
    expect(server.frames.filter((f) => f.type === "hello").map((f) => f.since)).toEqual([undefined, 536870913, 536870913]);
  });

  test("catch-up: a tx at or below the snapshot's t is a protocol error: never applied twice, the client reconnects", async () => {
    server = await started((ws, attempt) => {
      welcome(ws, 536870914);
      ws.send(JSON.stringify({ type: "snapshot", t: 536870913, datoms: [[1, "block/order", 1, 536870913, true]] }));
      // The server sends only txs after the snapshot's t; a repeat of 913 would retract what the snapshot holds.
      if (attempt === 1) txs(ws, tx(536870913, [[1, "block/order", 1, false]]), tx(536870914, [[1, "block/string", "s"]]));
      else txs(ws, tx(536870914, [[1, "block/string", "s"]]));
      ws.send(JSON.stringify({ type: "synced", t: 536870914 }));
    });
    const c = client(server.url, "alice");
    track(c);
    const reports: number[] = [];
    c.listen((r) => reports.push(r.t));
    await c.whenLive();
    expect(c.stats.closeCodes).toEqual([1002]);
    expect(reports).toEqual([536870914]);
    expect(c.q('[:find ?o . :where [1 "block/order" ?o]]')).toBe(1);
  });
});

describe("protocol frames", () => {
  let server: ScriptedServer;
  const clients: SyncClient[] = [];
  afterEach(async () => {
    clients.splice(0).forEach((c) => c.close());
    await server.close();
  });
  const track = (c: SyncClient) => (clients.push(c), c);
  const titles = (c: SyncClient) => c.q<string[][]>('[:find ?t :where [_ "node/title" ?t]]').map((r) => r[0]).sort();

  test("hello carries PROTOCOL_VERSION", async () => {
    server = await started((ws) => live(ws));
    await track(client(server.url, "alice")).whenLive();
    expect(server.frames.find((f) => f.type === "hello")).toMatchObject({ protocol: PROTOCOL_VERSION, name: "alice" });
  });

  test("a txs frame applies each transaction in order and reports each to listen(); a frame repeating a t is refused whole", async () => {
    const T = 536870912;
    server = await started((ws, attempt, hello) => {
      if (attempt === 2) {
        welcome(ws, T + 2);
        ws.send(JSON.stringify({ type: "synced", t: hello.since }));
        return txs(ws, tx(T + 3, [[2, "node/title", "three"]], "bob"));
      }
      live(ws, T);
      setTimeout(() => {
        txs(ws, tx(T + 1, [[1, "node/title", "one"]]), tx(T + 2, [[1, "node/title", "one", false], [1, "node/title", "two"]]));
        txs(ws, tx(T + 2, [[9, "node/title", "duplicate"]]), tx(T + 3, [[2, "node/title", "three"]], "bob"));
      }, 20);
    });
    const c = track(client(server.url, "alice"));
    const reports: Array<[number, string, boolean]> = [];
    c.listen((r) => reports.push([r.t, r.author, r.catchUp]));
    await waitFor("t + 3", () => c.t === T + 3);
    expect(reports).toEqual([[T + 1, "x", false], [T + 2, "x", false], [T + 3, "bob", false]]);
    expect(titles(c)).toEqual(["three", "two"]);
    expect(c.stats.closeCodes).toEqual([1002]);
    expect(server.frames.filter((f) => f.type === "hello").map((f) => f.since)).toEqual([undefined, T + 2]);
  });

  test("a snapshot older than the replica's t (shared cache, or a server restored from backup) and the txs after it replace the replica at synced", async () => {
    const T = 536870912;
    const persist = memoryPersistence();
    // The client already holds t + 9 (e.g. from before the server lost its last transactions).
    await persist.saveReplica(T + 9, [[5, "node/title", "lost", T + 9]]);
    server = await started((ws, attempt) => {
      welcome(ws, T + 6);
      ws.send(JSON.stringify({ type: "snapshot", t: T + 4, datoms: [[1, "node/title", "A", T + 4, true]] }));
      ws.send(JSON.stringify({ type: "snapshot", t: T + 4, datoms: [[2, "node/title", "B", T + 4, true]] }));
      txs(ws, tx(T + 5, [[3, "node/title", "C"]]));
      if (attempt === 1) return void setTimeout(() => ws.terminate(), 30); // gone before synced
      txs(ws, tx(T + 6, [[1, "node/title", "A", false]]));
      ws.send(JSON.stringify({ type: "synced", t: T + 6 }));
    });
    const c = track(client(server.url, "alice", { persist }));
    const events: string[] = [];
    c.on("snapshot", (t) => events.push(`snapshot ${t - T}`));
    c.listen((r) => events.push(`tx ${r.t - T}${r.catchUp ? " catch-up" : ""}`));
    await waitFor("restored", () => c.t === T + 9);
    await waitFor("first connection dropped", () => c.stats.closeCodes.length === 1);
    expect(titles(c)).toEqual(["lost"]); // nothing of the unfinished catch-up
    await c.whenLive();
    expect(c.t).toBe(T + 6);
    expect(titles(c)).toEqual(["B", "C"]);
    expect(events).toEqual(["snapshot 9", "snapshot 4", "tx 5 catch-up", "tx 6 catch-up"]);
    expect(c.stats).toMatchObject({ snapshots: 1, catchUpTxs: 2 });
    expect(server.frames.filter((f) => f.type === "hello").map((f) => f.since)).toEqual([T + 9, T + 9]);
  });

  test("catch-up from since arrives as txs: applied as they come, live ones follow synced", async () => {
    const T = 536870912;
    server = await started((ws, attempt) => {
      if (attempt === 1) {
        live(ws, T + 1);
        return void setTimeout(() => ws.close(1013, "slow reader: 5000000 bytes unsent"), 20);
      }
      welcome(ws, T + 3);
      txs(ws, tx(T + 2, [[1, "node/title", "two"]]), tx(T + 3, [[2, "node/title", "three"]]));
      ws.send(JSON.stringify({ type: "synced", t: T + 3 }));
      txs(ws, tx(T + 4, [[3, "node/title", "four"]]));
    });
    const c = track(client(server.url, "alice"));
    const reports: Array<[number, boolean]> = [];
    c.listen((r) => reports.push([r.t - T, r.catchUp]));
    await waitFor("t + 4", () => c.t === T + 4);
    // 1013 (slow reader): reconnect later with since, and miss nothing.
    expect(c.stats.closeCodes).toEqual([1013]);
    expect(server.frames.filter((f) => f.type === "hello").map((f) => f.since)).toEqual([undefined, T + 1]);
    expect(reports).toEqual([[2, true], [3, true], [4, false]]);
    expect(titles(c)).toEqual(["four", "three", "two"]);
  });

  test("presence: the roster replaces the list, later frames upsert peers and remove who left", async () => {
    const me = { session: "s1", name: "alice", page: null, block: null };
    const bob = { session: "s2", name: "bob", page: "Inbox", block: null };
    server = await started((ws, attempt) => {
      welcome(ws, 536870912, 3);
      ws.send(JSON.stringify({ type: "snapshot", t: 536870912, datoms: [] }));
      ws.send(JSON.stringify({ type: "synced", t: 536870912 }));
      const carol = { session: `s3-${attempt}`, name: "carol", page: null, block: null };
      ws.send(JSON.stringify({ type: "presence", roster: true, peers: [me, bob, carol], left: [], online: 3 }));
      if (attempt > 1) return;
      setTimeout(() => {
        ws.send(JSON.stringify({ type: "presence", peers: [{ ...bob, block: "b1" }, { session: "s4", name: "dan", page: "P", block: "x" }], left: [{ session: "s3-1", name: "carol" }], online: 3 }));
        ws.send(JSON.stringify({ type: "presence", peers: [], left: [{ session: "s4", name: "dan" }], online: 2 }));
      }, 20);
    });
    const c = track(client(server.url, "alice"));
    const seen: string[][] = [];
    c.on("presence", (everyone) => seen.push(everyone.map((p) => `${p.name}:${p.block ?? "-"}`).sort()));
    await waitFor("dan gone", () => seen.length >= 3);
    expect(seen.slice(0, 3)).toEqual([
      ["alice:-", "bob:-", "carol:-"],
      ["alice:-", "bob:b1", "dan:x"],
      ["alice:-", "bob:b1"],
    ]);
    expect(c.online).toBe(2);
    // A new connection's roster replaces what the last one built up (never merged into it).
    c.reconnect();
    expect(c.presence).toEqual([]);
    expect(c.online).toBe(0);
    await waitFor("second roster", () => c.presence.length === 3 && server.connections === 2);
    expect(c.presence.map((p) => p.session).sort()).toEqual(["s1", "s2", "s3-2"]);
    expect(c.presence.find((p) => p.name === "bob")?.block).toBeNull();
  });

  test("the client shares its presence once live, unless sharePresence is false; a count alone updates online", async () => {
    server = await started((ws) => {
      live(ws);
      ws.send(JSON.stringify({ type: "presence", roster: true, peers: [], left: [], online: 7 }));
    });
    const sharing = track(client(server.url, "alice"));
    const hidden = track(client(server.url, "bob", { sharePresence: false }));
    await waitFor("both counted", () => sharing.online === 7 && hidden.online === 7);
    await waitFor("alice's presence frame", () => server.frames.some((f) => f.type === "presence"));
    // One presence frame in all, with no focus: from alice; bob sent none.
    expect(server.frames.filter((f) => f.type === "presence")).toEqual([{ type: "presence", page: null, block: null }]);
    hidden.setPresence({ page: "Now visible" });
    await waitFor("bob's presence frame", () => server.frames.filter((f) => f.type === "presence").length === 2);
    expect(server.frames.filter((f) => f.type === "presence")[1]).toEqual({ type: "presence", page: "Now visible", block: null });
  });

  test("error codes this client does not know are handled like any other: by id, or as the reason for a refusal", async () => {
    server = await started((ws, attempt) => {
      if (attempt === 2) {
        ws.send(JSON.stringify({ type: "error", code: "some_future_refusal", message: "not you" }));
        return ws.close(1008, "policy");
      }
      live(ws);
      ws.send(JSON.stringify({ type: "frame_from_the_future", x: 1 }));
      ws.on("message", (data) => {
        const msg = JSON.parse(data.toString());
        if (msg.type !== "transact") return;
        if (msg.tx[0]["block/uid"] === "a") ws.send(JSON.stringify({ type: "rejected", id: msg.id, code: "id_conflict", message: "that id was used for another tx" }));
        else ws.send(JSON.stringify({ type: "error", id: msg.id, code: "storage_full", message: "disk full" }));
      });
    });
    const c = track(client(server.url, "alice"));
    const errors: string[] = [];
    c.on("error", (e) => errors.push(e.code));
    await c.whenLive();
    await expect(c.transact([{ ":db/id": -1, "block/uid": "a" }])).rejects.toMatchObject({ code: "id_conflict" });
    await expect(c.transact([{ ":db/id": -1, "block/uid": "b" }])).rejects.toMatchObject({ code: "storage_full", message: "disk full" });
    expect(c.status).toBe("live");
    expect(c.pending).toBe(0);
    expect(errors).toEqual([]); // the unknown frame type was ignored
    c.reconnect();
    await expect(c.whenLive()).rejects.toMatchObject({ code: "some_future_refusal", closeCode: 1008 });
    expect(c.status).toBe("failed");
  });
});

describe("the close-code table and the backoff", () => {
  test("closeAction", () => {
    expect([1002, 1008].map(closeAction)).toEqual(["fail", "fail"]);
    expect([1000, 1001, 1006, 1011, 1012, 4000].map(closeAction)).toEqual(Array(6).fill("retry"));
    expect(closeAction(1013)).toBe("retry-later");
    expect(closeAction(1009)).toBe("drop-largest");
  });

  test("backoff doubles, stays within [d/2, d], and is capped", () => {
    const opts = { baseMs: 500, maxMs: 30_000 };
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, opts, () => 1))).toEqual([500, 1000, 2000, 4000]);
    expect([1, 2, 3, 4].map((n) => backoffDelay(n, opts, () => 0))).toEqual([250, 500, 1000, 2000]);
    expect(backoffDelay(50, opts, () => 1)).toBe(30_000);
    expect(backoffDelay(50, opts, () => 0)).toBe(15_000);
  });
});
