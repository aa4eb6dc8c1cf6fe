/**
 * A backup's metadata (POST /admin/backup, its sidecar, X-Sync-Backup-T) names the
 * committed db the copy holds. The online copy also caught groups written but not yet
 * durable: under 4 writers with 8 transactions in flight each, every backup's log ran 3-32
 * transactions past its t (a durability review), never-acked writes a restore would bring back.
 */
import Database from "better-sqlite3";
import path from "node:path";
import { BACKUP_DIR } from "../src/storage/backups";
import { ADMIN_TOKEN, Client, adminRequest, startServer, waitFor } from "./helpers";

test("under load, each backup's log ends exactly at the t its metadata names", async () => {
  const ctx = await startServer(undefined, { SYNC_ADMIN_TOKEN: ADMIN_TOKEN, SYNC_RATE_LIMIT: "100000" });
  let stop = false;
  const writers = await Promise.all([0, 1, 2, 3].map((w) => Client.connect(ctx.url, `w${w}`)));
  const writing = writers.map(async (c, w) => {
    let next = 0;
    const inFlight = new Set<Promise<unknown>>();
    // Bounded: at most 3,000 transactions per writer, 8 in flight.
    while (!stop && next < 3000) {
      const id = `${w}-${next++}`;
      const p: Promise<unknown> = c.transact(id, [{ "block/uid": id, "block/string": "x" }]).then((): void => {
        inFlight.delete(p);
      });
      inFlight.add(p);
      if (inFlight.size >= 8) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  });
  try {
    const past: number[] = [];
    for (let k = 0; k < 5; k++) {
      // Each backup while the writers are well under way (the first one once raced them,
      // and copied a db that held no transaction yet).
      const from = ctx.server.sync.t;
      await waitFor("writers under way", () => ctx.server.sync.t >= from + 100, 30_000);
      const res = await adminRequest(ctx.port, "POST", "/admin/backup");
      expect(res.status).toBe(200);
      const info = res.json() as { file: string; t: number };
      const db = new Database(path.join(ctx.dataDir, BACKUP_DIR, info.file), { readonly: true });
      const max = (db.prepare("SELECT MAX(t) AS t FROM log").get() as { t: number | null }).t;
      db.close();
      expect(max).not.toBeNull();
      past.push(max! - info.t);
    }
    expect(past).toEqual([0, 0, 0, 0, 0]);
  } finally {
    stop = true;
    await Promise.all(writing);
    await Promise.all(writers.map((c) => c.close()));
    await ctx.server.stop();
  }
});
