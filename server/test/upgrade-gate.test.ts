import WebSocket from "ws";
import { Client, startServer, TOKEN } from "./helpers";
import { bearer, RawSocket, sleep, upgradeStatus } from "./attack-helpers";

/** Issue 9 items 8 and 9: everything decided before a WebSocket exists. */
describe("the upgrade gate", () => {
  let ctx: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    ctx = await startServer(undefined, {
      SYNC_ALLOWED_ORIGINS: "https://app.example.com",
      SYNC_MAX_CONNECTIONS_PER_IP: "3",
      SYNC_TRUSTED_PROXIES: "127.0.0.1/32",
    });
  });
  afterAll(() => ctx.server.stop());

  test.each([
    ["no token", {}],
    ["a wrong token", bearer("wrong-token-0000000000000")],
    ["a token under another scheme", { authorization: `Basic ${TOKEN}` }],
  ])("%s → HTTP 401, no upgrade", async (_label, headers) => {
    const res = await upgradeStatus(ctx.port, { headers });
    expect(res.status).toBe(401);
    expect(res.body).toMatch(/access token/);
  });

  test("a wrong ?token= → 401; the right one upgrades", async () => {
    expect((await upgradeStatus(ctx.port, { path: "/ws?token=nope" })).status).toBe(401);
    expect((await upgradeStatus(ctx.port, { path: `/ws?token=${TOKEN}` })).status).toBe(101);
  });

  test("`Authorization: bearer` in lower case connects and transacts", async () => {
    const ws = new RawSocket(ctx.url, { headers: { authorization: `bearer ${TOKEN}` } });
    await ws.opened;
    ws.hello("lower");
    ws.ws.send(JSON.stringify({ type: "transact", id: "lc-1", tx: [{ "block/uid": "lower-case-bearer" }] }));
    for (let i = 0; i < 100 && !ws.messages.some((m) => m.type === "ack"); i++) await sleep(50);
    expect(ws.messages.find((m) => m.type === "ack")).toMatchObject({ id: "lc-1" });
    ws.ws.close();
    await ws.closed;
  });

  test("an Origin off the allowlist → HTTP 403 (cross-site WebSocket hijacking), even with the token", async () => {
    expect((await upgradeStatus(ctx.port, { headers: { ...bearer(), origin: "https://evil.example.com" } })).status).toBe(403);
    expect((await upgradeStatus(ctx.port, { headers: { ...bearer(), origin: "null" } })).status).toBe(403);
    expect((await upgradeStatus(ctx.port, { headers: { ...bearer(), origin: "https://app.example.com" } })).status).toBe(101);
    // Not a browser: no Origin, still gated by the token.
    expect((await upgradeStatus(ctx.port, { headers: bearer() })).status).toBe(101);
  });

  test("SYNC_MAX_CONNECTIONS_PER_IP: the 4th socket from one address → HTTP 429; other addresses unaffected; freed on close", async () => {
    const held = Array.from({ length: 3 }, () => new RawSocket(ctx.url, { localAddress: "127.0.0.2" }));
    await Promise.all(held.map((s) => s.opened));
    expect((await upgradeStatus(ctx.port, { headers: bearer(), localAddress: "127.0.0.2" })).status).toBe(429);
    expect((await upgradeStatus(ctx.port, { headers: bearer(), localAddress: "127.0.0.3" })).status).toBe(101);
    held[0]!.ws.close();
    await held[0]!.closed;
    await sleep(50);
    const again = new RawSocket(ctx.url, { localAddress: "127.0.0.2" });
    await again.opened;
    for (const s of [...held, again]) s.ws.terminate();
  });

  test("X-Forwarded-For counts only from a trusted proxy", async () => {
    // 127.0.0.1 is the trusted proxy here: each forwarded client has its own cap.
    const viaProxy = (client: string) => new RawSocket(ctx.url, { localAddress: "127.0.0.1", headers: { ...bearer(), "x-forwarded-for": client } });
    const a = [viaProxy("198.51.100.1"), viaProxy("198.51.100.1"), viaProxy("198.51.100.1")];
    await Promise.all(a.map((s) => s.opened));
    expect((await upgradeStatus(ctx.port, { headers: { ...bearer(), "x-forwarded-for": "198.51.100.1" }, localAddress: "127.0.0.1" })).status).toBe(429);
    expect((await upgradeStatus(ctx.port, { headers: { ...bearer(), "x-forwarded-for": "198.51.100.2" }, localAddress: "127.0.0.1" })).status).toBe(101);
    // 127.0.0.4 is not a proxy: rotating X-Forwarded-For does not buy it more sockets.
    const spoof = [1, 2, 3].map((i) => new RawSocket(ctx.url, { localAddress: "127.0.0.4", headers: { ...bearer(), "x-forwarded-for": `203.0.113.${i}` } }));
    await Promise.all(spoof.map((s) => s.opened));
    expect((await upgradeStatus(ctx.port, { headers: { ...bearer(), "x-forwarded-for": "203.0.113.99" }, localAddress: "127.0.0.4" })).status).toBe(429);
    for (const s of [...a, ...spoof]) s.ws.terminate();
  });

  test("rotating addresses inside one IPv6 /64 does not buy more sockets: a subscriber's whole /64 shares the cap", async () => {
    // One home or VM is handed a /64 and may use any of its 2^64 addresses.
    const viaProxy = (client: string) => new RawSocket(ctx.url, { localAddress: "127.0.0.1", headers: { ...bearer(), "x-forwarded-for": client } });
    const held = ["2001:db8:1:2::1", "2001:db8:1:2:0:0:0:2", "2001:DB8:1:2:ffff::3"].map(viaProxy);
    await Promise.all(held.map((s) => s.opened));
    const status = async (client: string) => (await upgradeStatus(ctx.port, { headers: { ...bearer(), "x-forwarded-for": client }, localAddress: "127.0.0.1" })).status;
    expect(await status("2001:db8:1:2:dead:beef:0:4")).toBe(429);
    // The neighbouring /64 is someone else.
    expect(await status("2001:db8:1:3::1")).toBe(101);
    held[0]!.ws.close();
    await held[0]!.closed;
    await sleep(50);
    expect(await status("2001:db8:1:2::99")).toBe(101);
    for (const s of held) s.ws.terminate();
  });

  test("the server keeps serving", async () => {
    const c = await Client.connect(ctx.url, "after");
    expect(await c.transact("after-1", [{ "block/uid": "after" }])).toMatchObject({ type: "ack" });
    expect(c.ws.readyState).toBe(WebSocket.OPEN);
    await c.close();
  });
});

describe("before the HTTP request", () => {
  // Seen once in four runs under load: neither raw socket saw its close within 60 s, while
  // every instrumented run closed both in ~1 s (the server's deadline is exact, see
  // server.ts). Retry so one stalled harness socket is not a red build; a server that
  // never closes them still fails every attempt.
  jest.retryTimes(2, { logErrorsBeforeRetry: true });
  test("a TCP connection that never sends its request headers is closed after SYNC_HELLO_TIMEOUT", async () => {
    const net = await import("node:net");
    const ctx = await startServer(undefined, { SYNC_HELLO_TIMEOUT: "1s" });
    try {
      const silent = net.connect(ctx.port, "127.0.0.1");
      const partial = net.connect(ctx.port, "127.0.0.1", () => partial.write("GET /ws HTTP/1.1\r\nHost: x\r\n"));
      const started = Date.now();
      const closedAfter = (s: import("node:net").Socket) => new Promise<number>((resolve) => s.once("close", () => resolve(Date.now() - started)));
      silent.on("error", () => undefined);
      partial.on("error", () => undefined);
      const [a, b] = await Promise.all([closedAfter(silent), closedAfter(partial)]);
      expect(a).toBeLessThan(8000);
      expect(b).toBeLessThan(8000);
    } finally {
      await ctx.server.stop();
    }
  }, 20_000);
});
