import WebSocket from "ws";
import { signJwt } from "../src/auth";
import { PROTOCOL_VERSION } from "../../protocol/src";
import { Client, startServer, TOKEN } from "./helpers";

describe("bad input gets the documented error, and the server stays up", () => {
  let ctx: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    ctx = await startServer(undefined, { SYNC_MAX_FRAME_BYTES: "4KiB", SYNC_MAX_TX_DATOMS: "50", SYNC_RATE_LIMIT: "50" });
  });
  afterAll(() => ctx.server.stop());

  async function stillServes() {
    const probe = await Client.connect(ctx.url, "probe");
    expect(await probe.transact(`alive-${Math.random()}`, [{ "block/uid": `p${Math.random()}` }])).toMatchObject({ type: "ack" });
    await probe.close();
  }

  test.each([
    ["malformed JSON", "{not json", "bad_json"],
    ["unknown type", { type: "explode" }, "bad_message"],
    ["missing field", { type: "transact", id: "x" }, "bad_message"],
    ["extra field", { type: "presence", page: "p", session: "forged" }, "bad_message"],
  ])("%s → error %s", async (_label, frame, code) => {
    const c = await Client.connect(ctx.url);
    c.send(frame);
    expect(await c.next((m) => m.type === "error")).toMatchObject({ code });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    await c.close();
    await stillServes();
  });

  test("binary frame → bad_frame", async () => {
    const c = await Client.connect(ctx.url);
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "bad_frame" });
    await c.close();
  });

  test.each([
    ["unknown attribute", "unknown_attribute", [{ "block/uuid": "typo" }]],
    ["wrong value type", "bad_value", [{ "block/uid": "x", "block/order": "first" }]],
    ["unsupported op", "invalid_tx", [[":db.fn/call", "f"]]],
    ["not a list of items", "invalid_tx", ["just a string"]],
    ["empty", "invalid_tx", []],
    ["nested map", "invalid_tx", [{ "block/uid": "p", "block/children": [{ "block/uid": "c" }] }]],
    ["huge tx", "tx_too_large", Array.from({ length: 60 }, (_, i) => ({ "block/uid": `h${i}` }))],
  ])("transaction with %s → rejected %s", async (_label, code, tx) => {
    const c = await Client.connect(ctx.url);
    const t = ctx.server.sync.t;
    expect(await c.transact("bad", tx)).toMatchObject({ type: "rejected", id: "bad", code });
    expect(ctx.server.sync.t).toBe(t);
    await c.close();
  });

  test("oversized frame → close 1009", async () => {
    const c = await Client.connect(ctx.url);
    c.send({ type: "transact", id: "big", tx: [{ "block/uid": "x", "block/string": "y".repeat(8000) }] });
    expect((await c.closed).code).toBe(1009);
    await stillServes();
  });

  test("a message before hello → hello_required and close 1008", async () => {
    const c = new Client(ctx.url);
    await c.opened;
    c.send({ type: "transact", id: "early", tx: [{ "block/uid": "x" }] });
    expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "hello_required" });
    expect((await c.closed).code).toBe(1008);
  });

  test("a wrong protocol version → unsupported_protocol and close 1002", async () => {
    const c = new Client(ctx.url);
    await c.opened;
    c.send({ type: "hello", protocol: 99, name: "future" });
    expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "unsupported_protocol" });
    expect((await c.closed).code).toBe(1002);
  });

  test.each([
    ["no token", null],
    ["wrong token", "wrong-token-0000000000000"],
  ])("%s → HTTP 401 before any WebSocket exists", async (_label, token) => {
    const c = new Client(ctx.url, { token });
    await expect(c.opened).rejects.toThrow(/Unexpected server response: 401/);
    await stillServes();
  });

  test("the token may come as a query parameter", async () => {
    const c = new Client(ctx.url, { token: TOKEN, query: true });
    await c.opened;
    c.send({ type: "hello", protocol: PROTOCOL_VERSION, name: "browser" });
    expect(await c.next((m) => m.type === "synced")).toBeDefined();
    await c.close();
  });

  test("flooding past the rate limit → rate_limited, then close 1008", async () => {
    const c = await Client.connect(ctx.url);
    for (let i = 0; i < 400; i++) c.send({ type: "presence", page: `p${i}` });
    expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "rate_limited" });
    expect((await c.closed).code).toBe(1008);
    await stillServes();
  });

  test("unknown paths get 404; probes answer", async () => {
    const base = ctx.url.replace("ws://", "http://").replace("/ws", "");
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${base}/readyz`)).text()).toMatch(/^ready t=\d+/);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/sync_transactions_total \d+/);
    expect(metrics).toMatch(/sync_rejected_total\{code="tx_too_large"\} 1/);
  });
});

describe("connection limit and JWT identity", () => {
  test("past SYNC_MAX_CONNECTIONS → too_many_connections and close 1013", async () => {
    const ctx = await startServer(undefined, { SYNC_MAX_CONNECTIONS: "2" });
    try {
      const a = await Client.connect(ctx.url);
      const b = await Client.connect(ctx.url);
      const c = new Client(ctx.url);
      await c.opened;
      c.send({ type: "hello", protocol: PROTOCOL_VERSION, name: "third" });
      expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "too_many_connections" });
      expect((await c.closed).code).toBe(1013);
      await Promise.all([a.close(), b.close()]);
    } finally {
      await ctx.server.stop();
    }
  });

  test("with SYNC_JWT_SECRET, the JWT's sub is the name; a bad JWT is refused", async () => {
    const secret = "s".repeat(40);
    const ctx = await startServer(undefined, { SYNC_JWT_SECRET: secret });
    try {
      const jwt = signJwt({ sub: "verified-alice", exp: Math.floor(Date.now() / 1000) + 60 }, secret);
      const good = await Client.connect(ctx.url, "claims-to-be-bob", { jwt });
      expect(good.messages[0]).toMatchObject({ type: "welcome", name: "verified-alice" });
      for (const bad of [undefined, signJwt({ sub: "mallory" }, "x".repeat(40)), signJwt({ sub: "late", exp: 1 }, secret)]) {
        const c = new Client(ctx.url);
        await c.opened;
        c.send({ type: "hello", protocol: PROTOCOL_VERSION, name: "mallory", ...(bad ? { jwt: bad } : {}) });
        expect(await c.next((m) => m.type === "error")).toMatchObject({ code: "bad_jwt" });
        expect((await c.closed).code).toBe(1008);
      }
      await good.close();
    } finally {
      await ctx.server.stop();
    }
  });
});

describe("heartbeat", () => {
  test("a socket that stops answering pings is terminated", async () => {
    const ctx = await startServer(undefined, { SYNC_HEARTBEAT: "150ms" });
    try {
      const live = await Client.connect(ctx.url, "live");
      // Does not answer pings, as a peer whose network vanished would not.
      const dead = new Client(ctx.url, { autoPong: false });
      await dead.opened;
      dead.send({ type: "hello", protocol: PROTOCOL_VERSION, name: "dead" });
      await dead.next((m) => m.type === "synced");
      dead.send({ type: "presence", page: null });
      await live.next((m) => m.type === "presence" && m.peers.some((p: { name: string }) => p.name === "dead"), 5000);
      const started = Date.now();
      const gone = await live.next((m) => m.type === "presence" && m.left.some((l: { name: string }) => l.name === "dead"), 5000);
      expect(gone.left).toEqual([{ session: dead.messages[0]!.session, name: "dead" }]);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(live.ws.readyState).toBe(WebSocket.OPEN);
      await live.close();
    } finally {
      await ctx.server.stop();
    }
  });
});
