import { Client, type Msg, startServer } from "./helpers";

/**
 * validateTx counts only assertions against SYNC_MAX_TX_DATOMS: `:db/retract` and
 * `:db/retractEntity` items are free. One frame under SYNC_MAX_FRAME_BYTES (1 MiB) carries
 * 30,000 of them; datascript walks each one on the writer, the transaction is committed (it
 * changes nothing, yet takes a t, ~1 MB of log and a broadcast), and the writer is held
 * for the whole walk.
 */
describe("retractions count against SYNC_MAX_TX_DATOMS", () => {
  test("a transaction of 30,000 retract items (default SYNC_MAX_TX_DATOMS=10,000) is refused tx_too_large", async () => {
    const ctx = await startServer();
    try {
      const seeder = await Client.connect(ctx.url, "seeder");
      const items = Array.from({ length: 1000 }, (_, i) => ({ ":db/id": `t${i}`, "block/uid": `u${i}`, "block/string": "s" }));
      const seeded = await seeder.transact("seed", items);
      const ids = Object.values(seeded.tempids as Record<string, number>);
      const attacker = await Client.connect(ctx.url, "mallory");
      const victim = await Client.connect(ctx.url, "victim");
      const flood = Array.from({ length: 30_000 }, (_, i) => [":db/retract", ids[i % ids.length], "block/refs"]);
      expect(JSON.stringify({ type: "transact", id: "x", tx: flood }).length).toBeLessThan(1024 * 1024);
      for (let k = 0; k < 3; k++) attacker.send({ type: "transact", id: `flood-${k}`, tx: flood });
      await new Promise((r) => setTimeout(r, 20));
      const started = Date.now();
      const mine: Msg = await victim.transact("v1", [{ "block/uid": "victim", "block/string": "hello" }]);
      const victimMs = Date.now() - started;
      const answer = await attacker.next((m) => (m.type === "ack" || m.type === "rejected") && m.id === "flood-0", 30_000);
      expect(mine.type).toBe("ack");
      // Refused before datascript walks them: the victim no longer waits ~600 ms behind them.
      expect(victimMs).toBeLessThan(2000);
      expect({ flood: answer.type === "rejected" ? answer.code : answer.type, message: answer.message }).toMatchObject({ flood: "tx_too_large" });
      await Promise.all([seeder.close(), attacker.close(), victim.close()]);
    } finally {
      await ctx.server.stop();
    }
  }, 60_000);
});
