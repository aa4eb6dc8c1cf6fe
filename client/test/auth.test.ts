import { signJwt } from "../../server/src/auth";
import { ErrorCode, type SyncClient } from "../src";
import { ServerProcess, client, sleep, waitFor } from "./harness";

const SECRET = "a-jwt-secret-of-at-least-32-characters!!";

describe("refused credentials stop the client, with no reconnect storm (real server)", () => {
  const clients: SyncClient[] = [];
  afterEach(() => clients.splice(0).forEach((c) => c.close()));

  test("a wrong token: failed with unauthorized after one attempt", async () => {
    const server = await new ServerProcess().start();
    const c = client(server.url, "mallory", { token: "wrong-token-0123456789" });
    clients.push(c);
    await expect(c.whenLive()).rejects.toMatchObject({ code: ErrorCode.UNAUTHORIZED, closeCode: 1008 });
    expect(c.status).toBe("failed");
    await sleep(1500); // a retrying client (backoff 25-400 ms) would have come back several times
    // The server refuses a bad token with HTTP 401 before any WebSocket exists, counted by status.
    expect(await server.metric("sync_frame_errors_total", '{code="http_401"}')).toBe(1);
    expect(c.stats.connects).toBe(1);
    await server.kill();
  });

  test("a JWT that expires while the server restarts: failed with bad_jwt after one refused attempt", async () => {
    const server = await new ServerProcess(undefined, { SYNC_JWT_SECRET: SECRET }).start();
    const now = Math.floor(Date.now() / 1000);
    let exp = now + 3600;
    // The app's callback is asked on every connect; here the session ran out meanwhile.
    const c = client(server.url, "ignored", { jwt: () => signJwt({ sub: "carol", exp }, SECRET) });
    clients.push(c);
    await c.whenLive();
    expect(c.name).toBe("carol");
    const ack = await c.transact([{ ":db/id": -1, "block/uid": "jwt-1" }]);
    expect(ack.t).toBeGreaterThan(0);
    exp = now - 120; // past the server's 30 s of skew
    await server.kill("SIGTERM");
    await server.start();
    await waitFor("failed", () => c.status === "failed");
    expect(c.error).toMatchObject({ code: ErrorCode.BAD_JWT, closeCode: 1008 });
    await sleep(1500);
    expect(await server.metric("sync_frame_errors_total", '{code="bad_jwt"}')).toBe(1);
    await server.kill();
  });

  test("a JWT that expires while connected: the server closes bad_jwt/1008; a callback's fresh JWT reconnects, a fixed one stops", async () => {
    const server = await new ServerProcess(undefined, { SYNC_JWT_SECRET: SECRET }).start();
    // Valid for about 2 s more (exp 28 s ago, 30 s of skew); the next one for an hour.
    let exp = Math.floor(Date.now() / 1000) - 28;
    const c = client(server.url, "ignored", { jwt: () => signJwt({ sub: "dave", exp }, SECRET) });
    clients.push(c);
    await c.whenLive();
    exp = Math.floor(Date.now() / 1000) + 3600;
    await waitFor("the reconnect after the expiry", () => c.stats.connects === 2 && c.status === "live", 15_000);
    expect(c.stats.closeCodes).toEqual([1008]);
    expect((await c.transact([{ ":db/id": -1, "block/uid": "after-refresh" }])).t).toBeGreaterThan(0);

    const fixed = client(server.url, "ignored", { jwt: signJwt({ sub: "erin", exp: Math.floor(Date.now() / 1000) - 28 }, SECRET) });
    clients.push(fixed);
    await fixed.whenLive();
    await waitFor("failed", () => fixed.status === "failed", 15_000);
    expect(fixed.error).toMatchObject({ code: ErrorCode.BAD_JWT, closeCode: 1008 });
    expect(fixed.stats.connects).toBe(1);
    await server.kill();
  });
});
