/**
 * The VM's own stack, for real: the image built from server/Dockerfile, the compose file
 * and Caddyfile rendered by the project's renderers (localhost, tls internal), run by
 * docker-compose on a temp dir standing in for the attached volume.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SERVER_STOP_SECONDS, STOP_ORDER } from "../../components/spec";
import { MIGRATIONS } from "../../server/src/storage/migrations";
import { Client, clientView, type Msg } from "../../server/test/helpers";
import { type LocalStack, renderLocalStack } from "../../scripts/local-stack";
import { buildServerImage, Compose, requireEngine, sh, until } from "./docker";
import { Exit } from "../../ops/src/exit-codes";
import { cli } from "../../ops/test/helpers";

// The local stack's ports (`npm run local`): non-default ports, so the HTTP->HTTPS redirect
// must carry the HTTPS port.
const HTTPS_PORT = Number(process.env.E2E_HTTPS_PORT ?? 8443);
const HTTP_PORT = Number(process.env.E2E_HTTP_PORT ?? 8080);
const HTTPS_ORIGIN = `https://localhost${HTTPS_PORT === 443 ? "" : `:${HTTPS_PORT}`}`;
/** Made by this run, removed by afterAll. */
const tempDirs: string[] = [];
function tempDir(prefix: string): string {
  const made = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(made);
  return made;
}
const dir = tempDir("athens-e2e-");
// The engine may be shared: this run's compose project and image tags are its own.
const RUN = `e2e-${process.pid}`;
let stack: LocalStack;
let compose: Compose;
let images: { v1: string; v2?: string };
const open: Client[] = [];

function render(image: string, build: string): LocalStack {
  return renderLocalStack({
    dir,
    image,
    build,
    caddyImage: process.env.E2E_CADDY_IMAGE,
    httpsPort: HTTPS_PORT,
    httpPort: HTTP_PORT,
    environment: { SYNC_BACKUP_INTERVAL: "3s", SYNC_BACKUP_KEEP: "3", SYNC_LOG_LEVEL: "info" },
  });
}

/** A wss:// client through Caddy, trusting its local CA. */
const connect = async (name: string, since?: number) => {
  const c = await Client.connect(stack.url, name, since === undefined ? {} : { since }, { token: stack.token, ca: fs.readFileSync(stack.caCert) });
  open.push(c);
  return c;
};

/** The newest tx id a client has applied. */
const lastT = (c: Client) => Math.max(0, ...c.messages.filter((m: Msg) => ["tx", "snapshot", "synced"].includes(m.type)).map((m: Msg) => m.t as number));

/** /readyz from inside the server's container: Caddy does not expose it to the internet. */
async function readyInside(): Promise<string> {
  const server = await compose.container("sync");
  return sh("docker", ["exec", server, "node", "-e", "fetch('http://127.0.0.1:8080/readyz').then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1); })"]);
}

/** Up through Caddy (TLS with the local CA), ready inside, and healthy by Docker's own healthcheck. */
async function waitReady(): Promise<void> {
  await until("the server's /healthz through Caddy", async () => {
    if (!fs.existsSync(stack.caCert)) return false;
    return (await sh("curl", ["-fsS", "--cacert", stack.caCert, `https://localhost:${HTTPS_PORT}/healthz`])) === "ok";
  });
  await until("the server's /readyz", async () => /^ready t=\d+/.test(await readyInside()));
  const server = await compose.container("sync");
  await until("the container healthcheck", async () => (await sh("docker", ["inspect", "--format", "{{.State.Health.Status}}", server])) === "healthy");
}

function uids(messages: ReturnType<typeof clientView>): Set<string> {
  return new Set(messages.map((f) => JSON.parse(f) as [number, string, string]).filter(([, a]) => a === "block/uid").map(([, , v]) => v));
}

beforeAll(async () => {
  await requireEngine();
  const started = Date.now();
  images = { v1: await buildServerImage(`athens-sync-server:${RUN}-v1`, "e2e-v1") };
  const size = await sh("docker", ["image", "inspect", "--format", "{{.Size}}", images.v1]);
  console.log(`server image athens-sync-server:${RUN}-v1: ${(Number(size) / 1e6).toFixed(1)} MB (built in ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  stack = render(images.v1, "e2e-v1");
  compose = new Compose(`athens-${RUN}`, stack.composeFile);
  await compose.run("down", "--remove-orphans").catch(() => undefined);
  await compose.run("up", "-d");
  await waitReady();
}, 900_000);

afterEach(() => {
  for (const c of open.splice(0)) c.ws.terminate();
});

afterAll(async () => {
  if (compose) {
    const logs = await compose.run("logs", "--no-color", "--tail", "30").catch((e: Error) => e.message);
    if (process.env.E2E_SHOW_LOGS) console.log(logs);
    await compose.run("down", "--timeout", "30").catch(() => undefined);
  }
  await sh("docker", ["rmi", `athens-sync-server:${RUN}-v1`, `athens-sync-server:${RUN}-v2`]).catch(() => undefined);
  // The stack's volume, restored copies and pulled backups: each run left ~1.5 MB behind.
  for (const d of tempDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

test("a wss:// client through Caddy: hello, transaction, ack, broadcast to a second client", async () => {
  const alice = await connect("alice");
  const bob = await connect("bob");
  const ack = await alice.transact("e2e-1", [{ ":db/id": -1, "block/uid": "e2e-page", "node/title": "E2E" }]);
  expect(ack).toMatchObject({ type: "ack", id: "e2e-1" });
  const seen = await bob.next((m) => m.type === "tx" && m.t === ack.t);
  expect(seen.datoms).toContainEqual([ack.tempids["-1"], "node/title", "E2E", ack.t, true]);
  expect(seen.author).toBe("alice");
});

test("/healthz answers through Caddy, /readyz and /metrics do not face the internet; the healthcheck reports healthy", async () => {
  await waitReady();
  for (const p of ["/readyz", "/metrics"]) {
    const code = await sh("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", stack.caCert, `https://localhost:${HTTPS_PORT}${p}`]);
    expect([p, code]).toEqual([p, "404"]);
  }
});

test("HTTP redirects to HTTPS on the HTTPS port, keeping the path", async () => {
  const redirect = await sh("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", `http://localhost:${HTTP_PORT}/healthz?x=1`]);
  expect(redirect).toMatch(/^30[18] /);
  expect(redirect.split(" ")[1]).toBe(`${HTTPS_ORIGIN}/healthz?x=1`);
});

test("docker kill -s KILL during a write loop: every acknowledged transaction survives the restart", async () => {
  const writers = await Promise.all([connect("w1"), connect("w2"), connect("w3")]);
  const acked = new Set<string>();
  writers.forEach((w, i) => {
    let n = 0;
    const send = () => {
      if (w.ws.readyState === 1) w.send({ type: "transact", id: `k${i}-${n}`, tx: [{ "block/uid": `k${i}-${n++}` }] });
    };
    w.ws.on("message", (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === "ack") {
        acked.add(m.id);
        send();
      }
    });
    for (let j = 0; j < 4; j++) send();
  });
  await until("some acks", async () => acked.size > 50, 30_000);
  await sh("docker", ["kill", "-s", "KILL", await compose.container("sync")]);
  await Promise.all(writers.map((w) => w.closed));
  await compose.run("up", "-d");
  await waitReady();
  const auditor = await connect("auditor");
  const present = uids(clientView(auditor.messages));
  expect([...acked].filter((id) => !present.has(id))).toEqual([]);
  console.log(`SIGKILL: ${acked.size} acknowledged transactions, all present after restart`);
});

test("docker stop (SIGTERM): clients see 1012 and the server logs a clean shutdown", async () => {
  const a = await connect("a");
  const b = await connect("b");
  const server = await compose.container("sync");
  await sh("docker", ["stop", "--time", "30", server]);
  expect((await a.closed).code).toBe(1012);
  expect((await b.closed).code).toBe(1012);
  const logs = await sh("docker", ["logs", server]);
  expect(logs).toMatch(/"msg":"shutdown complete"/);
  expect(await sh("docker", ["inspect", "--format", "{{.State.ExitCode}}", server])).toBe("0");
  await compose.run("up", "-d");
  await waitReady();
});

test("update: a new image on the same volume runs migrations, keeps the data, and reconnecting clients miss nothing", async () => {
  const reader = await connect("reader");
  const writer = await connect("writer");
  for (let i = 0; i < 5; i++) await writer.transact(`before-${i}`, [{ "block/uid": `before-${i}` }]);
  await reader.next((m) => m.type === "tx" && m.datoms.some((d: unknown[]) => d[2] === "before-4"));
  const since = lastT(reader);
  const before = clientView(reader.messages);

  images.v2 = await buildServerImage(`athens-sync-server:${RUN}-v2`, "e2e-v2");
  expect(images.v2).not.toBe(images.v1);
  // The VM's unit stops the server first, then Caddy (components/spec.ts STOP_ORDER).
  for (const service of STOP_ORDER) await compose.run("stop", "--timeout", String(SERVER_STOP_SECONDS), service);
  expect((await reader.closed).code).toBe(1012);
  stack = render(images.v2, "e2e-v2");
  await compose.run("up", "-d");
  await waitReady();

  const server = await compose.container("sync");
  const logs = await sh("docker", ["logs", server]);
  expect(logs).toMatch(/"version":"0\.1\.0\+e2e-v2"/);
  expect(logs).toMatch(/"msg":"db loaded"/);
  expect(await sh("docker", ["inspect", "--format", "{{.Config.Image}}", server])).toBe(images.v2);
  // Boot ran the migrations (the db is at the newest schema) and recorded each version that opened it.
  const probe =
    'const D=require("better-sqlite3");const db=new D("/data/sync.db",{readonly:true});' +
    'console.log(JSON.stringify({schema:db.pragma("user_version",{simple:true}),versions:db.prepare("SELECT DISTINCT version FROM boots ORDER BY id").all().map(r=>r.version)}))';
  const state = JSON.parse(await sh("docker", ["exec", server, "node", "-e", probe]));
  expect(state).toEqual({ schema: MIGRATIONS.length, versions: ["0.1.0+e2e-v1", "0.1.0+e2e-v2"] });

  const writer2 = await connect("writer");
  const after = [];
  for (let i = 0; i < 4; i++) after.push(await writer2.transact(`after-${i}`, [{ "block/uid": `after-${i}` }]));
  const back = await connect("reader", since);
  expect(back.messages.some((m) => m.type === "snapshot")).toBe(false);
  expect(back.messages.filter((m) => m.type === "tx").map((m) => m.t)).toEqual(after.map((a) => a.t));
  const view = clientView([{ type: "snapshot", datoms: before.map((f) => JSON.parse(f)) }, ...back.messages]);
  const fresh = await connect("fresh");
  expect(view).toEqual(clientView(fresh.messages));
});

test("backups land in the volume's backups/ on schedule, and restore brings back the same datoms on a fresh volume", async () => {
  const writer = await connect("backup-writer");
  const last = await writer.transact("pre-backup", [{ "block/uid": "pre-backup", "block/string": "in the backup" }]);
  const expected = clientView((await connect("snapshotter")).messages);
  const backupsDir = path.join(stack.volume, "backups");
  const wroteAt = Date.now();
  const file = await until("a backup written after the last transaction", async () => {
    const files = fs.readdirSync(backupsDir).filter((f) => /^sync-.*\.db$/.test(f)).sort();
    const newest = files.at(-1);
    return newest && fs.statSync(path.join(backupsDir, newest)).mtimeMs > wroteAt + 100 ? newest : undefined;
  }, 30_000);
  expect(fs.readdirSync(backupsDir).filter((f) => f.endsWith(".db")).length).toBeLessThanOrEqual(3);
  expect(last.type).toBe("ack");

  const fresh = tempDir("athens-e2e-restore-");
  fs.chownSync(fresh, 1000, 1000);
  await sh("docker", ["run", "--rm", "-v", `${fresh}:/data`, "-v", `${backupsDir}:/backups:ro`, images.v2 ?? images.v1, "sync-server", "restore", `/backups/${file}`]);
  const name = `athens-e2e-restored-${process.pid}`;
  await sh("docker", ["run", "-d", "--name", name, "-e", "SYNC_INSECURE_NO_AUTH=1", "-p", "127.0.0.1::8080", "-v", `${fresh}:/data`, images.v2 ?? images.v1]);
  try {
    const port = (await sh("docker", ["port", name, "8080/tcp"])).split(":").pop()!;
    const restored = await until("the restored server", async () => {
      const checker = await Client.connect(`ws://127.0.0.1:${port}/ws`, "checker", {}, { token: null });
      checker.ws.terminate();
      return checker.messages;
    }, 60_000);
    expect(clientView(restored)).toEqual(expected);
  } finally {
    await sh("docker", ["rm", "-f", name]).catch(() => undefined);
  }
});

test("the operator CLI through Caddy: status figures, a verified backup pull, restore --from-backup gives the backup's datoms back; a wrong admin token is refused", async () => {
  const target = ["--url", stack.url, "--admin-token", stack.adminToken, "--ca", stack.caCert];
  const writer = await connect("ops-writer");
  expect(await writer.transact("ops-before", [{ "block/uid": "ops-before", "block/string": "in the backup" }])).toMatchObject({ type: "ack" });
  const viewer = await connect("ops-viewer");
  const atBackup = clientView(viewer.messages);

  const status = await cli(["status", ...target, "--json"]);
  expect([status.code, status.stderr]).toEqual([Exit.OK, expect.any(String)]);
  expect(status.json()).toMatchObject({ reachable: { ok: true }, tls: { ok: true }, admin: { ok: true, ready: true, t: lastT(viewer), datoms: atBackup.length } });
  expect((await cli(["status", "--url", stack.url, "--admin-token", "x".repeat(48), "--ca", stack.caCert])).code).toBe(Exit.DENIED);

  expect((await cli(["backup", "now", ...target])).code).toBe(Exit.OK);
  const dir = tempDir("athens-e2e-pull-");
  const pull = await cli(["backup", "pull", "--to", dir, ...target, "--json"]);
  expect([pull.code, pull.stderr]).toEqual([Exit.OK, expect.any(String)]);
  expect(pull.json().verified).toEqual(["sqlite", "integrity_check", "sha256", "t", "datoms"]);

  expect(await writer.transact("ops-after", [{ "block/uid": "ops-after", "block/string": "not in the backup" }])).toMatchObject({ type: "ack" });
  const restore = await cli(["restore", "--from-backup", pull.json().file as string, "--yes", ...target, "--json"]);
  expect([restore.code, restore.stderr]).toEqual([Exit.OK, expect.any(String)]);
  expect((await writer.closed).code).toBe(1012);
  const after = await until("a client after the restore", async () => (await connect("ops-after-restore")).messages);
  expect(clientView(after)).toEqual(atBackup);
});
