import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { listBackups } from "../src/storage/backups";
import { Client, clientView, DIST, env, startServer, tmpDir } from "./helpers";

const run = promisify(execFile);
const cli = (dataDir: string, ...args: string[]) =>
  run(process.execPath, [path.join(DIST, "cli.js"), ...args], { env: { ...process.env, ...env(dataDir) } });

async function seed(url: string, n: number) {
  const c = await Client.connect(url, "seeder");
  for (let i = 0; i < n; i++) await c.transact(`s${i}`, [{ "block/uid": `b${i}`, "block/string": `text ${i}`, "block/order": i }]);
  const view = clientView(c.messages);
  await c.close();
  return view;
}

describe("backups", () => {
  test("scheduled backups land in <data>/backups and only the newest K are kept", async () => {
    const { server, url, dataDir } = await startServer(undefined, { SYNC_BACKUP_INTERVAL: "150ms", SYNC_BACKUP_KEEP: "2" });
    try {
      await seed(url, 3);
      await new Promise((r) => setTimeout(r, 800));
      // Stopped first: it waits for the backup in flight, whose .tmp (and a third copy,
      // before pruning) would otherwise be seen half-way (stop() again below is a no-op).
      await server.stop();
      const files = listBackups(path.join(dataDir, "backups"));
      expect(files).toHaveLength(2);
      // Self-contained: no WAL mode, so it opens read-only from anywhere.
      const copy = new Database(files[0]!, { readonly: true });
      expect(copy.pragma("journal_mode", { simple: true })).toBe("delete");
      copy.close();
      expect(fs.readdirSync(path.join(dataDir, "backups")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  test("backup (CLI, server running), then restore into a fresh data dir: the same datoms", async () => {
    const { server, url, dataDir } = await startServer();
    let view: string[];
    let file: string;
    try {
      view = await seed(url, 12);
      file = (await cli(dataDir, "backup")).stdout.trim();
      expect(fs.existsSync(file)).toBe(true);
      // Writes after the backup are not in it.
      const late = await Client.connect(url, "late");
      await late.transact("after", [{ "block/uid": "after-backup" }]);
      await late.close();
    } finally {
      await server.stop();
    }

    const fresh = tmpDir();
    const out = await cli(fresh, "restore", file);
    expect(out.stdout).toMatch(/restored/);
    const restored = await startServer(fresh);
    try {
      const c = await Client.connect(restored.url, "checker");
      expect(clientView(c.messages)).toEqual(view);
      await c.close();
    } finally {
      await restored.server.stop();
    }
  });

  test("a CLI backup finishes while the server goes on writing (a stepwise copy restarted on every write)", async () => {
    const { server, url, dataDir } = await startServer();
    // Four writers, each under the per-connection rate limit: a commit every ~2 ms.
    const writers = await Promise.all([0, 1, 2, 3].map((w) => Client.connect(url, `writer${w}`)));
    let writing = true;
    let writes = 0;
    try {
      // ~20 MB: SQLite copied it 100 pages (400 KB) a step, and a write between two steps restarted it.
      for (let i = 0; i < 80; i++) await writers[0]!.transact(`big${i}`, [{ "block/uid": `big${i}`, "block/string": `${i}`.padEnd(250_000, "x") }]);
      const loops = writers.map(async (writer, w) => {
        await writer.transact(`w${w}`, [{ "block/uid": `w${w}`, "block/string": "0" }]);
        for (let i = 1; writing && i < 100_000; i++) {
          await writer.transact(`w${w}.${i}`, [[":db/add", ["block/uid", `w${w}`], "block/string", `${i}`]]);
          writes++;
          await new Promise((r) => setTimeout(r, 6));
        }
      });
      await new Promise((r) => setTimeout(r, 200));
      const writes0 = writes;
      const started = Date.now();
      // Killed past 45 s (stepwise, it went on copying from the start again): then this fails.
      const { stdout } = await run(process.execPath, [path.join(DIST, "cli.js"), "backup"], { env: { ...process.env, ...env(dataDir) }, timeout: 45_000 });
      const seconds = (Date.now() - started) / 1000;
      writing = false;
      await Promise.all(loops);
      // The copy ran while the server wrote: otherwise this proves nothing.
      expect(writes - writes0).toBeGreaterThan(0);
      expect(seconds).toBeLessThan(30);
      const copy = new Database(stdout.trim(), { readonly: true });
      expect((copy.prepare("SELECT count(*) AS n FROM log").get() as { n: number }).n).toBeGreaterThanOrEqual(84);
      copy.close();
    } finally {
      writing = false;
      for (const writer of writers) await writer.close();
      await server.stop();
    }
  }, 120_000);

  test("restore refuses while a server holds the data dir, and rejects a non-backup", async () => {
    const { server, url, dataDir } = await startServer();
    try {
      await seed(url, 2);
      const backup = await server.backup();
      await expect(cli(dataDir, "restore", backup!)).rejects.toMatchObject({ stderr: expect.stringMatching(/in use by a running sync server/) });
      const junk = path.join(tmpDir(), "junk.db");
      fs.writeFileSync(junk, "not a database");
      await expect(cli(tmpDir(), "restore", junk)).rejects.toMatchObject({ stderr: expect.stringMatching(/not a sync server backup/) });
    } finally {
      await server.stop();
    }
  });

  test("restore over an existing db keeps the old one aside", async () => {
    const { server, url, dataDir } = await startServer();
    await seed(url, 2);
    const backup = (await server.backup())!;
    await server.stop();
    const { stdout } = await cli(dataDir, "restore", backup);
    const kept = /kept as (\S+)/.exec(stdout)![1]!;
    expect(fs.existsSync(kept)).toBe(true);
  });
});
