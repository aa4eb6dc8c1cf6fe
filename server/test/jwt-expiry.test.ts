/**
 * A connection's authority is its JWT: once the token expires (exp + the 30 s skew), the
 * server fails the connection with bad_jwt and closes it 1008, as it refuses an expired
 * token at hello. It used to check exp only at hello (found in review), and a socket kept
 * writing under its sub for as long as it lived.
 */
import fs from "node:fs";
import { signJwt } from "../src/auth";
import { Client, startServer, tmpDir } from "./helpers";

test("a connection whose JWT expires gets bad_jwt and close 1008; nothing after is acked", async () => {
  const secret = "s".repeat(40);
  const dir = tmpDir();
  const ctx = await startServer(dir, { SYNC_JWT_SECRET: secret });
  try {
    // Valid for about 4 more seconds (exp 26 s ago, the skew is 30 s): room for a loaded
    // machine to connect and get its first ack.
    const exp = Math.floor(Date.now() / 1000) - 26;
    const jwt = signJwt({ sub: "short-lived", exp }, secret);
    const c = await Client.connect(ctx.url, "ignored", { jwt });
    expect((await c.transact("before", [{ "block/uid": "a" }])).type).toBe("ack");
    const error = await c.next((m) => m.type === "error", 10_000);
    expect(error).toMatchObject({ code: "bad_jwt", message: "JWT has expired; reconnect with a fresh one" });
    expect(Date.now()).toBeGreaterThanOrEqual((exp + 30) * 1000);
    expect((await c.closed).code).toBe(1008);
    // A token valid for a long time (beyond setTimeout's 24.8-day limit) keeps its connection.
    const long = await Client.connect(ctx.url, "ignored", { jwt: signJwt({ sub: "long-lived", exp: Math.floor(Date.now() / 1000) + 100 * 86_400 }, secret) });
    await new Promise((r) => setTimeout(r, 300));
    expect((await long.transact("later", [{ "block/uid": "b" }])).type).toBe("ack");
    await long.close();
  } finally {
    await ctx.server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
