/**
 * The admin API (/admin/..., SYNC_ADMIN_TOKEN) against a real server: the attacker's cases
 * first (no token, wrong token, the sync token, guessing past the rate limit, oversized,
 * garbage, corrupt, newer-schema, unloadable, concurrent and stalled uploads: each leaves
 * the old data serving and no upload behind), then status, backup and an online restore.
 */
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import Database from "better-sqlite3";
import { AdminPath, AdminStatusSchema, BackupHeader, BackupInfoSchema, RestoreResultSchema } from "../../protocol/src/admin";
import { CloseCode } from "../../protocol/src";
import * as validation from "../src/admin/validate-upload";
import { allDatoms } from "../src/datalog/datascript";
import { RESTORE_UPLOAD_PREFIX } from "../src/storage/backups";
import { Client, clientView, seedBlocks as seed, startServer, TOKEN, tmpDir, viewOf as view, waitFor } from "./helpers";

const ADMIN = "admin-token-0123456789abcdef0123456789";

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json: () => any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One request on its own connection; `body` may be a Buffer or a function that writes the body itself. */
function request(port: number, method: string, p: string, opts: { token?: string | null; headers?: Record<string, string>; body?: Buffer | ((req: http.ClientRequest) => void) } = {}): Promise<Reply> {
  const token = opts.token === undefined ? ADMIN : opts.token;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers };
    if (Buffer.isBuffer(opts.body)) headers["content-length"] = String(opts.body.length);
    const req = http.request({ host: "127.0.0.1", port, method, path: p, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("end", () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
      });
      res.once("error", reject);
    });
    req.once("error", reject);
    if (typeof opts.body === "function") opts.body(req);
    else req.end(opts.body);
  });
}


const uploads = (dataDir: string) => fs.readdirSync(dataDir).filter((f) => f.startsWith("restore-upload-"));

async function adminServer(extra: Record<string, string> = {}) {
  return startServer(undefined, { SYNC_ADMIN_TOKEN: ADMIN, ...extra });
}

describe("admin API: who gets in", () => {
  test("without SYNC_ADMIN_TOKEN every /admin path is 404, even with a token", async () => {
    const { server, port } = await startServer();
    try {
      for (const [method, p] of [["GET", AdminPath.status], ["POST", AdminPath.restore], ["GET", AdminPath.backupLatest]] as const) {
        expect((await request(port, method, p)).status).toBe(404);
        expect((await request(port, method, p, { token: TOKEN })).status).toBe(404);
      }
    } finally {
      await server.stop();
    }
  });

  test("no token, a wrong token, the sync token or the admin token in the query string: 401", async () => {
    const { server, port } = await adminServer();
    try {
      for (const token of [null, "x".repeat(40), TOKEN, `${ADMIN}x`, ADMIN.slice(0, -1)]) {
        const r = await request(port, "GET", AdminPath.status, { token });
        expect([token, r.status]).toEqual([token, 401]);
        expect(r.headers["www-authenticate"]).toMatch(/^Bearer/);
        expect(r.json().error).toBe("unauthorized");
      }
      expect((await request(port, "GET", `${AdminPath.status}?token=${ADMIN}`, { token: null })).status).toBe(401);
      // A restore with a wrong token never reaches the data.
      const r = await request(port, "POST", AdminPath.restore, { token: TOKEN, body: Buffer.from("x") });
      expect(r.status).toBe(401);
      expect((await request(port, "GET", AdminPath.status)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  test("SYNC_ADMIN_TOKEN equal to SYNC_TOKEN or shorter than 32 characters is a config error", async () => {
    await expect(startServer(undefined, { SYNC_ADMIN_TOKEN: "a".repeat(40), SYNC_TOKEN: "a".repeat(40) })).rejects.toThrow(/SYNC_ADMIN_TOKEN: must differ from SYNC_TOKEN/);
    await expect(startServer(undefined, { SYNC_ADMIN_TOKEN: "short" })).rejects.toThrow(/SYNC_ADMIN_TOKEN: must be at least 32 characters/);
  });

  test("guessing is rate limited per address: 429 with Retry-After, for good tokens too, other addresses unaffected", async () => {
    const { server, port } = await adminServer();
    try {
      // The test connects from loopback, a trusted proxy: X-Forwarded-For names the client, as Caddy's does.
      const from = (ip: string) => ({ "x-forwarded-for": ip });
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await request(port, "GET", AdminPath.status, { token: `guess-${i}`.padEnd(40, "x"), headers: from("203.0.113.7") })).status);
      expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(25);
      expect(statuses.slice(-5)).toEqual([429, 429, 429, 429, 429]);
      const limited = await request(port, "GET", AdminPath.status, { headers: from("203.0.113.7") });
      expect(limited.status).toBe(429);
      expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect((await request(port, "GET", AdminPath.status, { headers: from("203.0.113.8") })).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  test("rotating addresses inside one IPv6 /64 shares one bucket", async () => {
    const { server, port } = await adminServer();
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 40; i++) statuses.push((await request(port, "GET", AdminPath.status, { token: `guess-${i}`.padEnd(40, "x"), headers: { "x-forwarded-for": `2001:db8:7:7::${(i + 1).toString(16)}` } })).status);
      expect(statuses.slice(-5)).toEqual([429, 429, 429, 429, 429]);
      expect((await request(port, "GET", AdminPath.status, { headers: { "x-forwarded-for": "2001:db8:7:8::1" } })).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  test("unknown admin paths are 404 and wrong methods 405, after the token check", async () => {
    const { server, port } = await adminServer();
    try {
      expect((await request(port, "GET", "/admin/nope", { token: null })).status).toBe(401);
      expect((await request(port, "GET", "/admin/nope")).status).toBe(404);
      expect((await request(port, "DELETE", AdminPath.status)).status).toBe(405);
      expect((await request(port, "GET", AdminPath.restore)).status).toBe(405);
    } finally {
      await server.stop();
    }
  });
});

test("with the admin API on (a 30 min request deadline), a slow body sent anywhere else does not hold the socket", async () => {
  const { server, port } = await adminServer();
  try {
    const net = await import("node:net");
    const socket = net.connect(port, "127.0.0.1");
    await new Promise((r) => socket.once("connect", r));
    let answer = "";
    socket.on("data", (c: Buffer) => (answer += c.toString()));
    const closed = new Promise<number>((r) => socket.once("close", () => r(Date.now())));
    const started = Date.now();
    socket.write("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n" + "x".repeat(100));
    // Keep trickling: a bounded loop, one byte every 200 ms for at most 5 s.
    const trickle = setInterval(() => socket.writable && socket.write("x"), 200);
    const end = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 5000))]);
    clearInterval(trickle);
    socket.destroy();
    expect(answer).toMatch(/^HTTP\/1.1 405/);
    expect(end).not.toBe(-1);
    expect(end - started).toBeLessThan(3000);
  } finally {
    await server.stop();
  }
});

describe("admin API: hostile restore uploads change nothing", () => {
  let ctx: Awaited<ReturnType<typeof adminServer>>;
  let before: string[];
  let watcher: Client;

  beforeAll(async () => {
    ctx = await adminServer({ SYNC_ADMIN_MAX_UPLOAD: "256KiB", SYNC_ADMIN_UPLOAD_TIMEOUT: "1500ms" });
    await seed(ctx.url, 5);
    before = await view(ctx.url);
    // Connected throughout: a refused upload must never drain clients.
    watcher = await Client.connect(ctx.url, "watcher");
  });
  afterAll(async () => {
    await watcher.close();
    await ctx.server.stop();
  });
  afterEach(async () => {
    expect(uploads(ctx.dataDir)).toEqual([]);
    expect(watcher.ws.readyState).toBe(watcher.ws.OPEN);
    expect(await view(ctx.url)).toEqual(before);
    expect(ctx.server.state).toBe("RUNNING");
  });

  test("a declared size over SYNC_ADMIN_MAX_UPLOAD: 413 before a byte is read", async () => {
    const r = await request(ctx.port, "POST", AdminPath.restore, {
      headers: { "content-length": String(10 * 1024 ** 2) },
      body: (req) => req.write(Buffer.alloc(1024)),
    });
    expect(r.status).toBe(413);
    expect(r.json().error).toBe("upload_too_large");
  });

  test("a chunked upload that grows past the cap is cut off with 413", async () => {
    const r = await request(ctx.port, "POST", AdminPath.restore, {
      body: (req) => {
        const chunk = Buffer.alloc(64 * 1024, 7);
        let sent = 0;
        // Bounded: at most 64 chunks (4 MiB); the server answers long before that.
        const pump = () => {
          while (sent < 64 && req.write(chunk)) sent++;
          if (sent < 64 && !req.destroyed) req.once("drain", pump);
          else req.end();
        };
        req.once("error", () => undefined);
        pump();
      },
    }).catch((err: Error) => ({ status: -1, error: err }));
    // The answer, or a reset when the server drops the socket while the body is still coming.
    if (r.status !== -1) expect(r.status).toBe(413);
  });

  test("an upload that would eat into SYNC_MIN_FREE_SPACE is refused with 507 as it arrives, chunked or declared", async () => {
    // A floor just under the volume's free space: the log may still write, an upload may not take any of it.
    const s = fs.statfsSync(ctx.dataDir);
    const floorMiB = Math.floor((s.bavail * s.bsize) / 1024 ** 2) - 32;
    const tight = await adminServer({ SYNC_MIN_FREE_SPACE: `${floorMiB}MiB` });
    try {
      const writer = await Client.connect(tight.url, "writer");
      const chunked = await request(tight.port, "POST", AdminPath.restore, { body: (req) => req.end(Buffer.alloc(64 * 1024, 7)) });
      expect(chunked.status).toBe(507);
      expect(chunked.json()).toMatchObject({ error: "insufficient_storage", message: expect.stringMatching(/SYNC_MIN_FREE_SPACE; nothing was changed/) });
      const declared = await request(tight.port, "POST", AdminPath.restore, { body: Buffer.alloc(64 * 1024, 7) });
      expect(declared.status).toBe(507);
      expect(uploads(tight.dataDir)).toEqual([]);
      // The log's own writes are untouched: its floor was never reached.
      expect(await writer.transact("after-507", [{ "block/uid": "after-507" }])).toMatchObject({ type: "ack" });
      await writer.close();
    } finally {
      await tight.server.stop();
    }
  });

  test("garbage bytes: 422, not a backup", async () => {
    const r = await request(ctx.port, "POST", AdminPath.restore, { body: Buffer.from("SQLite format 3\u0000 but not really".repeat(100)) });
    expect(r.status).toBe(422);
    expect(r.json()).toMatchObject({ error: "not_a_backup", message: expect.stringMatching(/nothing was changed/) });
  });

  test("a real backup with damaged pages: 422 from integrity_check", async () => {
    const file = (await ctx.server.backup())!;
    const bytes = fs.readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    // Scribble over every page after the first: the header still says SQLite.
    for (let off = pageSize; off < bytes.length; off += 97) bytes[off] = (bytes[off]! + 13) & 0xff;
    const r = await request(ctx.port, "POST", AdminPath.restore, { body: bytes });
    expect(r.status).toBe(422);
    expect(r.json().error).toBe("not_a_backup");
  });

  test("a db from a newer server (schema above ours), and a foreign SQLite db: 422", async () => {
    const dir = tmpDir();
    const newer = path.join(dir, "newer.db");
    fs.copyFileSync((await ctx.server.backup())!, newer);
    const db = new Database(newer);
    db.pragma("user_version = 99");
    db.close();
    const r1 = await request(ctx.port, "POST", AdminPath.restore, { body: fs.readFileSync(newer) });
    expect([r1.status, r1.json().message]).toEqual([422, expect.stringMatching(/newer server/)]);
    const foreign = path.join(dir, "foreign.db");
    const f = new Database(foreign);
    f.exec("CREATE TABLE t (x)");
    f.pragma("user_version = 1");
    f.close();
    const r2 = await request(ctx.port, "POST", AdminPath.restore, { body: fs.readFileSync(foreign) });
    expect([r2.status, r2.json().message]).toEqual([422, expect.stringMatching(/holds table t, which this server never creates/)]);
    const empty = path.join(dir, "empty.db");
    const e = new Database(empty);
    e.pragma("user_version = 1");
    e.close();
    const r3 = await request(ctx.port, "POST", AdminPath.restore, { body: fs.readFileSync(empty) });
    expect([r3.status, r3.json().message]).toEqual([422, expect.stringMatching(/table log lacks/)]);
  });

  test("a stalled upload is cut off at SYNC_ADMIN_UPLOAD_TIMEOUT (408) and frees the restore slot", async () => {
    const started = Date.now();
    const r = await request(ctx.port, "POST", AdminPath.restore, {
      headers: { "content-length": String(100 * 1024) },
      body: (req) => req.write(Buffer.alloc(1000)),
    });
    const took = Date.now() - started;
    expect(r.status).toBe(408);
    expect(took).toBeGreaterThanOrEqual(1400);
    expect(took).toBeLessThan(5000);
    // The slot is free again: the next attempt is judged on its own merits.
    expect((await request(ctx.port, "POST", AdminPath.restore, { body: Buffer.from("junk") })).status).toBe(422);
  });

  test("a second restore while one is uploading: 409 at once; the first goes on", async () => {
    let first!: http.ClientRequest;
    const firstDone = request(ctx.port, "POST", AdminPath.restore, {
      headers: { "content-length": "2000" },
      body: (req) => {
        first = req;
        req.write(Buffer.alloc(1000));
      },
    });
    // The first has claimed the restore once its first 1000 bytes are on disk.
    const uploaded = () => fs.readdirSync(ctx.dataDir).filter((f) => f.startsWith(RESTORE_UPLOAD_PREFIX)).map((f) => fs.statSync(path.join(ctx.dataDir, f)).size);
    await waitFor("the first upload's first 1000 bytes", () => uploaded().some((size) => size >= 1000));
    const second = await request(ctx.port, "POST", AdminPath.restore, { body: Buffer.from("another") });
    expect(second.status).toBe(409);
    expect(second.json().error).toBe("restore_in_progress");
    // Backups wait for the restore too.
    expect((await request(ctx.port, "POST", AdminPath.backup)).status).toBe(409);
    first.end(Buffer.alloc(1000));
    expect((await firstDone).status).toBe(422);
  });

  test("a backup that checks out but whose log does not replay: 500, the previous db serves again", async () => {
    // Remove a transaction from the middle of the log: integrity is fine, the history is not.
    const dir = tmpDir();
    const broken = path.join(dir, "gap.db");
    fs.copyFileSync((await ctx.server.backup())!, broken);
    const db = new Database(broken);
    db.prepare("DELETE FROM log WHERE t = (SELECT min(t) + 2 FROM log)").run();
    db.prepare("DELETE FROM snapshots").run();
    db.close();
    const r = await request(ctx.port, "POST", AdminPath.restore, { body: fs.readFileSync(broken) });
    expect(r.status).toBe(500);
    expect(r.json()).toMatchObject({ error: "restore_failed", message: expect.stringMatching(/previous db is serving again/) });
    // That restore did drain clients before it found out; reconnect the watcher for afterEach.
    await watcher.closed;
    watcher = await Client.connect(ctx.url, "watcher");
  });
});

describe("admin API: status, backup and an online restore", () => {
  test("status reports the server's own figures", async () => {
    const { server, port, url } = await adminServer();
    try {
      await seed(url, 4);
      const c = await Client.connect(url, "editor");
      // An update (retract + add) and a retraction: the count follows what datascript holds.
      await c.transact("u1", [{ "block/uid": "b1", "block/string": "changed" }]);
      await c.transact("u2", [[":db/retract", ["block/uid", "b2"], "block/order", 2]]);
      const r = await request(port, "GET", AdminPath.status);
      expect(r.status).toBe(200);
      const status = AdminStatusSchema.parse(r.json());
      expect(status).toMatchObject({ state: "RUNNING", ready: true, problem: null, version: "test", t: server.sync.t, datoms: allDatoms(server.sync.db).length, connections: 1, lastBackup: null });
      expect(status.dbBytes).toBeGreaterThan(0);
      expect(status.volumeFreeBytes).toBeGreaterThan(0);
      const info = BackupInfoSchema.parse((await request(port, "POST", AdminPath.backup)).json());
      const after = AdminStatusSchema.parse((await request(port, "GET", AdminPath.status)).json());
      expect(after.lastBackup).toEqual(info);
      expect(info).toMatchObject({ t: server.sync.t, datoms: status.datoms });
      await c.close();
    } finally {
      await server.stop();
    }
  });

  test("a shutdown that begins while an upload is being checked: 503, nothing changed (not a 500 saying the old db serves again)", async () => {
    const { server, port, url } = await adminServer();
    const check = jest.spyOn(validation, "validateUploadOffThread");
    try {
      await seed(url, 2);
      const upload = fs.readFileSync((await server.backup())!);
      // A connected client: the shutdown's drain then takes a moment, as it does in production.
      const reader = await Client.connect(url, "reader");
      let stopping: Promise<void> | undefined;
      // SIGTERM arrives during the check: stop() has begun by the time it passes.
      check.mockImplementationOnce(async () => {
        stopping = server.stop();
        await new Promise((r) => setImmediate(r));
      });
      const r = await request(port, "POST", AdminPath.restore, { body: upload });
      await stopping;
      expect((await reader.closed).code).toBe(CloseCode.SERVICE_RESTART);
      expect(r.status).toBe(503);
      expect(r.json()).toMatchObject({ error: "not_ready", message: expect.stringMatching(/the server is closing; nothing was changed/) });
    } finally {
      check.mockRestore();
      await server.stop();
    }
  });

  test("backup now, download it, change data, upload it: clients are drained with 1012 and find the backup's datoms", async () => {
    const { server, port, url, dataDir } = await adminServer();
    try {
      await seed(url, 6);
      const atBackup = await view(url);
      const info = BackupInfoSchema.parse((await request(port, "POST", AdminPath.backup)).json());
      const download = await request(port, "GET", AdminPath.backupLatest);
      expect(download.status).toBe(200);
      expect(download.headers[BackupHeader.t]).toBe(String(info.t));
      expect(download.headers[BackupHeader.datoms]).toBe(String(info.datoms));
      expect(download.headers[BackupHeader.sha256]).toBe(info.sha256);
      expect(download.body.length).toBe(info.bytes);

      await seed(url, 3, 100);
      const changed = await view(url);
      expect(changed).not.toEqual(atBackup);
      const head = server.sync.t;
      const listener = await Client.connect(url, "listener");

      const r = await request(port, "POST", AdminPath.restore, { body: download.body });
      expect(r.status).toBe(200);
      const result = RestoreResultSchema.parse(r.json());
      // replacedT: what the clients had been sent, 3 transactions past the backup.
      expect(result).toMatchObject({ t: info.t, datoms: info.datoms, drained: 1, replacedT: head });
      expect(head - info.t).toBe(3);
      expect((await listener.closed).code).toBe(CloseCode.SERVICE_RESTART);
      expect(await view(url)).toEqual(atBackup);
      expect(server.sync.t).toBe(info.t);
      // The replaced db is kept, never deleted.
      expect(fs.existsSync(path.join(dataDir, result.replaced!))).toBe(true);
      expect(uploads(dataDir)).toEqual([]);
      // Writes go on from the restored t.
      const w = await Client.connect(url, "writer");
      expect((await w.transact("after-restore", [{ "block/uid": "new" }])).type).toBe("ack");
      await w.close();
      // And the next restore is taken like the first.
      const again = await request(port, "POST", AdminPath.restore, { body: download.body });
      expect([again.status, again.json().t]).toEqual([200, info.t]);
      expect(await view(url)).toEqual(atBackup);
    } finally {
      await server.stop();
    }
  });

  test("a client offline through the restore, back after new writes passed its since, gets a snapshot, not a forked log", async () => {
    const { server, port, url } = await adminServer();
    try {
      await seed(url, 4);
      (await request(port, "POST", AdminPath.backup)).json();
      const backup = (await request(port, "GET", AdminPath.backupLatest)).body;
      await seed(url, 4, 100);
      // This client saw the history the restore replaces, then went offline.
      const offline = await Client.connect(url, "offline");
      const since = (await offline.next((m) => m.type === "synced")).t as number;
      await offline.close();
      expect((await request(port, "POST", AdminPath.restore, { body: backup })).status).toBe(200);
      // The new history grows past the offline client's t.
      await seed(url, 6, 200);
      expect(server.sync.t).toBeGreaterThan(since);
      const back = await Client.connect(url, "offline", { since });
      expect(back.messages.some((m) => m.type === "snapshot")).toBe(true);
      expect(clientView(back.messages)).toEqual(await view(url));
      await back.close();
    } finally {
      await server.stop();
    }
  });

  test("no backup yet: GET /admin/backup/latest is 404", async () => {
    const { server, port } = await adminServer();
    try {
      const r = await request(port, "GET", AdminPath.backupLatest);
      expect([r.status, r.json().error]).toEqual([404, "no_backup"]);
    } finally {
      await server.stop();
    }
  });
});
