import path from "node:path";
import Database from "better-sqlite3";
import { signJwt } from "../src/auth";
import { MIGRATIONS, migrate } from "../src/storage/migrations";
import { Client, type Msg, startServer, tmpDir } from "./helpers";

/** Sends a transaction and waits for the answer that arrives after it (ids repeat here). */
function transact(c: Client, id: string, tx: unknown[]): Promise<Msg> {
  const from = c.messages.length;
  c.send({ type: "transact", id, tx });
  return c.next((m) => (m.type === "ack" || m.type === "rejected") && m.id === id, 10_000, from);
}

/**
 * Issue 9 item 4: idempotency keyed on (name, id) let a second tab that reused an id get
 * the first tab's ack while its own transaction was silently dropped.
 */
describe("transaction ids: a resend is recognised only by identical tx-data", () => {
  test("two tabs under one name reuse id 1: the second is rejected id_conflict, not silently dropped", async () => {
    const ctx = await startServer();
    try {
      const tab1 = await Client.connect(ctx.url, "alice");
      const tab2 = await Client.connect(ctx.url, "alice");
      const first = await transact(tab1, "1", [{ ":db/id": "b", "block/uid": "tab1-block", "block/string": "from tab 1" }]);
      expect(first).toMatchObject({ type: "ack" });
      const second = await transact(tab2, "1", [{ ":db/id": "b", "block/uid": "tab2-block", "block/string": "from tab 2" }]);
      expect(second).toMatchObject({ type: "rejected", id: "1", code: "id_conflict" });
      expect(second.message).toMatch(/UUID/);
      // A genuine resend (same tx-data, even with its map keys in another order) gets the first ack.
      const resend = await transact(tab1, "1", [{ "block/string": "from tab 1", "block/uid": "tab1-block", ":db/id": "b" }]);
      expect(resend).toMatchObject({ type: "ack", t: first.t, tempids: first.tempids });
      // Two conflicting frames in the same group commit: the in-flight one is compared too.
      const [a, b] = await Promise.all([transact(tab1, "2", [{ "block/uid": "same-turn-a" }]), transact(tab2, "2", [{ "block/uid": "same-turn-b" }])]);
      expect([a.type, b.type].sort()).toEqual(["ack", "rejected"]);
      expect((a.type === "rejected" ? a : b).code).toBe("id_conflict");
      await Promise.all([tab1.close(), tab2.close()]);
    } finally {
      await ctx.server.stop();
    }
  });

  test("with JWT the key is the verified sub: the same id under two subs is two transactions", async () => {
    const secret = "j".repeat(40);
    const ctx = await startServer(undefined, { SYNC_JWT_SECRET: secret });
    try {
      const jwt = (sub: string) => signJwt({ sub, exp: Math.floor(Date.now() / 1000) + 60 }, secret);
      // Both claim the same self-declared name; only the sub counts.
      const ann = await Client.connect(ctx.url, "same-name", { jwt: jwt("ann") });
      const bob = await Client.connect(ctx.url, "same-name", { jwt: jwt("bob") });
      const a = await transact(ann, "1", [{ "block/uid": "ann-1" }]);
      const b = await transact(bob, "1", [{ "block/uid": "bob-1" }]);
      expect(a).toMatchObject({ type: "ack" });
      expect(b).toMatchObject({ type: "ack" });
      expect(b.t).toBe(a.t + 1);
      expect(await transact(bob, "1", [{ "block/uid": "bob-other" }])).toMatchObject({ type: "rejected", code: "id_conflict" });
      await Promise.all([ann.close(), bob.close()]);
    } finally {
      await ctx.server.stop();
    }
  });

  test("a db logged before the hash column (migration 3) still recognises resends and conflicts", async () => {
    const dataDir = tmpDir();
    // Build a db as the previous server version left it: schema 2, one logged transaction.
    const seed = await startServer(dataDir);
    const c = await Client.connect(seed.url, "old");
    const ack = await transact(c, "legacy-1", [{ "block/uid": "legacy" }]);
    await c.close();
    await seed.server.stop();
    const db = new Database(path.join(dataDir, "sync.db"));
    db.exec("UPDATE log SET tx_hash = NULL");
    expect(() => migrate(db, MIGRATIONS)).not.toThrow();
    db.close();

    const ctx = await startServer(dataDir);
    try {
      const again = await Client.connect(ctx.url, "old");
      expect(await transact(again, "legacy-1", [{ "block/uid": "legacy" }])).toMatchObject({ type: "ack", t: ack.t });
      expect(await transact(again, "legacy-1", [{ "block/uid": "different" }])).toMatchObject({ type: "rejected", code: "id_conflict" });
      await again.close();
    } finally {
      await ctx.server.stop();
    }
  });

  test("migration 3 upgrades a schema-2 db in place", () => {
    const db = new Database(path.join(tmpDir(), "v2.db"));
    migrate(db, MIGRATIONS.slice(0, 2));
    db.prepare("INSERT INTO log (t, client_id, author, tx_data, datoms, tempids, time) VALUES (536870913, 'x', 'a', '[]', '[]', '{}', 0)").run();
    expect(migrate(db)).toEqual({ from: 2, to: MIGRATIONS.length });
    expect(db.prepare("SELECT tx_hash FROM log").get()).toEqual({ tx_hash: null });
    db.close();
  });
});
