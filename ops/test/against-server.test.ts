/**
 * Every server-facing command against a real server process (the compiled server with
 * SYNC_ADMIN_TOKEN): status figures equal the server's, a pulled backup holds the server's
 * datoms, backup → change → restore --from-backup gives the backup's datoms back, and a
 * wrong admin token is refused. The CLI runs in-process; the server is a child process.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { readBackupDatoms, readBackupFacts } from "../src/backup-file";
import { Exit } from "../src/exit-codes";
import { ADMIN, Client, cli, seed, serverView, startServer, tmpDir } from "./helpers";

let srv: Awaited<ReturnType<typeof startServer>>;
const target = () => ["--url", srv.ws, "--admin-token", ADMIN];

beforeAll(async () => {
  srv = await startServer();
  await seed(srv.ws, 8);
});
afterAll(async () => {
  await srv.stop();
});

describe("refused and unreachable", () => {
  test("a wrong admin token: exit 5 from every admin command, and the error names the token", async () => {
    for (const argv of [["status"], ["backup", "now"], ["backup", "pull", "--to", tmpDir()]]) {
      const r = await cli([...argv, "--url", srv.ws, "--admin-token", "wrong-token-wrong-token-wrong-token", "--json"]);
      expect([argv, r.code]).toEqual([argv, Exit.DENIED]);
      const body = r.json();
      expect(argv[0] === "status" ? body.admin : body).toMatchObject({ error: "unauthorized", message: expect.stringMatching(/admin token was refused/) });
    }
  });

  test("the sync token is not an admin token", async () => {
    const r = await cli(["status", "--url", srv.ws, "--admin-token", "test-token-0123456789abcdef", "--json"]);
    expect(r.code).toBe(Exit.DENIED);
  });

  test("nothing listening: exit 4 with the cause in words", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await cli(["status", "--url", `ws://127.0.0.1:${port}/ws`, "--admin-token", ADMIN]);
    expect(r.code).toBe(Exit.UNREACHABLE);
    expect(r.stdout).toMatch(/connection refused/);
  });

  test("no admin token at all: status still checks reachability, says what is missing, exits 0", async () => {
    const r = await cli(["status", "--url", srv.ws, "--json"]);
    expect(r.code).toBe(Exit.OK);
    expect(r.json()).toMatchObject({ reachable: { ok: true, status: 200 }, admin: null, tls: null });
    expect((await cli(["backup", "now", "--url", srv.ws])).code).toBe(Exit.CONFIG);
  });
});

describe("status", () => {
  test("its figures are the server's: t, datoms, clients, space, version", async () => {
    const editor = await Client.connect(srv.ws, "editor");
    await editor.transact("edit-1", [{ "block/uid": "b1", "block/string": "edited" }]);
    const view = await serverView(srv.ws);
    const r = await cli(["status", ...target(), "--json"]);
    expect(r.code).toBe(Exit.OK);
    const s = r.json();
    expect(s.reachable).toMatchObject({ ok: true, status: 200 });
    expect(s.admin).toMatchObject({ ok: true, ready: true, state: "RUNNING", t: view.t, datoms: view.datoms.length, connections: 1 });
    expect(s.admin.volumeFreeBytes).toBeGreaterThan(0);
    expect(s.admin.dbBytes).toBe(fs.statSync(path.join(srv.dataDir, "sync.db")).size + (fs.existsSync(path.join(srv.dataDir, "sync.db-wal")) ? fs.statSync(path.join(srv.dataDir, "sync.db-wal")).size : 0));
    expect(s.admin.version).toMatch(/^\d+\.\d+\.\d+\+/);
    await editor.close();
    // The human form carries the same figures.
    const human = await cli(["status", ...target()]);
    expect(human.stdout).toMatch(new RegExp(`t\\s+${view.t}`));
    expect(human.stdout).toMatch(new RegExp(`datoms\\s+${view.datoms.length}`));
  });
});

describe("backups", () => {
  test("backup now, then backup pull: the copy verifies and holds exactly the server's datoms", async () => {
    const view = await serverView(srv.ws);
    const now = await cli(["backup", "now", ...target(), "--json"]);
    expect(now.code).toBe(Exit.OK);
    expect(now.json()).toMatchObject({ t: view.t, datoms: view.datoms.length });
    const dir = tmpDir();
    const pull = await cli(["backup", "pull", "--to", dir, ...target(), "--json"]);
    expect(pull.code).toBe(Exit.OK);
    const report = pull.json();
    expect(report.verified).toEqual(["sqlite", "integrity_check", "sha256", "t", "datoms"]);
    expect(path.dirname(report.file)).toBe(dir);
    expect(fs.readdirSync(dir)).toEqual([path.basename(report.file)]);
    expect(readBackupDatoms(report.file)).toEqual(view.datoms);
    expect((await readBackupFacts(report.file)).t).toBe(view.t);
  });

  test("a copy altered on the way (a proxy in between) fails verification: exit 6, kept as .unverified", async () => {
    await cli(["backup", "now", ...target()]);
    // A proxy that passes the server's answer through with one byte of the body flipped.
    const proxy = http.createServer((req, res) => {
      const up = http.request({ host: "127.0.0.1", port: srv.port, path: req.url, method: req.method, headers: req.headers }, (upRes) => {
        res.writeHead(upRes.statusCode!, upRes.headers);
        let flipped = false;
        upRes.on("data", (chunk: Buffer) => {
          if (!flipped && chunk.length > 200) {
            chunk[150] = chunk[150]! ^ 0xff;
            flipped = true;
          }
          res.write(chunk);
        });
        upRes.on("end", () => res.end());
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    try {
      const dir = tmpDir();
      const port = (proxy.address() as { port: number }).port;
      const r = await cli(["backup", "pull", "--to", dir, "--url", `ws://127.0.0.1:${port}/ws`, "--admin-token", ADMIN]);
      expect(r.code).toBe(Exit.VERIFY_FAILED);
      expect(r.stderr).toMatch(/sha256 .* differs/);
      expect(fs.readdirSync(dir).every((f) => f.endsWith(".unverified"))).toBe(true);
    } finally {
      proxy.close();
    }
  });

  test("backup, change data, restore --from-backup: the server holds the backup's datoms again", async () => {
    const atBackup = await serverView(srv.ws);
    const dir = tmpDir();
    expect((await cli(["backup", "now", ...target()])).code).toBe(Exit.OK);
    const pulled = (await cli(["backup", "pull", "--to", dir, ...target(), "--json"])).json().file as string;
    await seed(srv.ws, 4, 500);
    const changed = await serverView(srv.ws);
    expect(changed.datoms).not.toEqual(atBackup.datoms);
    const listener = await Client.connect(srv.ws, "listener");

    // Without a terminal and without --yes it refuses, and nothing changes.
    const unconfirmed = await cli(["restore", "--from-backup", pulled, ...target()]);
    expect(unconfirmed.code).toBe(Exit.USAGE);
    expect(unconfirmed.stderr).toMatch(/--yes/);
    expect((await serverView(srv.ws)).datoms).toEqual(changed.datoms);

    const r = await cli(["restore", "--from-backup", pulled, "--yes", ...target(), "--json"]);
    expect([r.code, r.stderr]).toEqual([Exit.OK, expect.anything()]);
    expect(r.json()).toMatchObject({ t: atBackup.t, datoms: atBackup.datoms.length, drained: 1, replacedT: changed.t });
    expect(changed.t - atBackup.t).toBe(4);
    expect((await listener.closed).code).toBe(1012);
    const after = await serverView(srv.ws);
    expect(after).toEqual(atBackup);
    expect(fs.existsSync(path.join(srv.dataDir, r.json().replaced))).toBe(true);
  });

  test("restore refuses a local file that is not a good backup before uploading anything", async () => {
    const before = await serverView(srv.ws);
    const junk = path.join(tmpDir(), "junk.db");
    fs.writeFileSync(junk, "not a database at all".repeat(100));
    const r = await cli(["restore", "--from-backup", junk, "--yes", ...target()]);
    expect(r.code).toBe(Exit.VERIFY_FAILED);
    expect(r.stderr).toMatch(/not a usable backup/);
    expect(await serverView(srv.ws)).toEqual(before);
  });
});
