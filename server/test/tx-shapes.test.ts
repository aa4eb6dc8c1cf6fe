import { Client, type Msg, startServer } from "./helpers";

describe("tx-data the validator used to let through to datascript", () => {
  test("a tempid used only as a ref value gets a message that says so, not 'conflicts with the current db'", async () => {
    const ctx = await startServer();
    try {
      const c = await Client.connect(ctx.url, "alice");
      const answer: Msg = await c.transact("t1", [
        [":db/add", -1, "block/string", "parent"],
        [":db/add", -1, "block/children", "child-never-created"],
      ]);
      expect(answer.type).toBe("rejected");
      // The db is empty: nothing can conflict with it. The fault is the tempid.
      expect(answer.message).not.toMatch(/conflicts with the current db/);
      expect(answer.message).toMatch(/tempid/i);
      await c.close();
    } finally {
      await ctx.server.stop();
    }
  });

  test("a transaction that asserts and retracts nothing ([{}]) is refused, not committed as an empty t broadcast to everyone", async () => {
    const ctx = await startServer();
    try {
      const c = await Client.connect(ctx.url, "alice");
      const before = ctx.server.sync.t;
      const answer: Msg = await c.transact("empty", [{}]);
      expect({ type: answer.type, t: ctx.server.sync.t }).toEqual({ type: "rejected", t: before });
      const emptyMany: Msg = await c.transact("empty-many", [{ ":db/id": -1, "block/refs": [] }]);
      expect({ type: emptyMany.type, code: emptyMany.code, message: emptyMany.message, t: ctx.server.sync.t }).toEqual({ type: "rejected", code: "invalid_tx", message: expect.stringMatching(/asserts and retracts nothing/), t: before });
      await c.close();
    } finally {
      await ctx.server.stop();
    }
  });
});
