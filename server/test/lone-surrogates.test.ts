import { signJwt, verifyJwt } from "../src/auth";
import { Client, type Msg, startServer } from "./helpers";
import { RawSocket } from "./attack-helpers";

/**
 * The author (hello name or JWT sub) and the transaction id are keys of the log, stored as
 * SQLite TEXT, which is UTF-8: a lone UTF-16 surrogate (a display name cut at 64 units in
 * the middle of an emoji, say) came back as U+FFFD, so the resend of a committed
 * transaction was not recognised and was applied a second time (found by review). Such
 * strings are now refused with a clear error, before anything is stored.
 */
describe("names, ids and JWT subs holding a lone surrogate", () => {
  test("a hello whose name ends in half an emoji is refused, saying why", async () => {
    const ctx = await startServer();
    try {
      const raw = new RawSocket(ctx.url);
      await raw.opened;
      raw.ws.send(JSON.stringify({ type: "hello", protocol: 4, name: "Zo\u00eb \ud83c" }));
      const closed = await raw.closed;
      const error = raw.messages.find((m: Msg) => m.type === "error");
      expect(error).toMatchObject({ code: "bad_message", message: expect.stringMatching(/name.*well-formed Unicode/s) });
      expect(closed.code).toBeGreaterThanOrEqual(1000);
    } finally {
      await ctx.server.stop();
    }
  });

  test("a transaction id holding a lone surrogate is refused; nothing is committed; the connection goes on", async () => {
    const ctx = await startServer();
    try {
      const c = await Client.connect(ctx.url, "alice");
      const t0 = ctx.server.sync.t;
      c.send({ type: "transact", id: "id-\udc00", tx: [{ ":db/id": "b", "block/string": "hello" }] });
      const error = await c.next((m) => m.type === "error" || m.type === "rejected");
      expect(error).toMatchObject({ code: "bad_message", message: expect.stringMatching(/well-formed Unicode/) });
      expect(ctx.server.sync.t).toBe(t0);
      // The same transaction under a well-formed id is applied once, and its resend is recognised.
      const first = await c.transact("id-\u{1F600}", [{ ":db/id": "b", "block/string": "hello" }]);
      const again = await c.transact("id-\u{1F600}", [{ ":db/id": "b", "block/string": "hello" }]);
      expect(again).toMatchObject({ type: "ack", t: first.t, tempids: first.tempids });
      await c.close();
    } finally {
      await ctx.server.stop();
    }
  });

  test("a JWT whose sub holds a lone surrogate is refused", () => {
    const secret = "k".repeat(32);
    expect(() => verifyJwt(signJwt({ sub: "ann\ud800", exp: Date.now() / 1000 + 60 }, secret), secret)).toThrow(/well-formed Unicode/);
    expect(verifyJwt(signJwt({ sub: "ann \u{1F600}", exp: Date.now() / 1000 + 60 }, secret), secret)).toBe("ann \u{1F600}");
  });
});
