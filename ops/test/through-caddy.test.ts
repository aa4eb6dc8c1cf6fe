/**
 * The CLI through a real Caddy (the Debian package `npm test` already requires) in front of
 * a real server process, with the Caddyfile the stacks render (components/render/caddyfile.ts,
 * its health check on /readyz included) plus `/admin/*` among the forwarded paths, and
 * Caddy's local CA: status over TLS, backup pull, and a restore whose drain Caddy's health
 * check may notice (the CLI then waits for the proxy to route again).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { renderCaddyfile } from "../../components/render/caddyfile";
import { PUBLIC_PATHS } from "../../components/spec";
import { Exit } from "../src/exit-codes";
import { ADMIN, cli, seed, serverView, startServer, tmpDir } from "./helpers";

let srv: Awaited<ReturnType<typeof startServer>>;
let caddy: ChildProcess;
let url: string;
let ca: string;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  srv = await startServer();
  await seed(srv.ws, 5);
  const [http, https] = [await freePort(), await freePort()];
  const dir = tmpDir("ops-caddy-");
  const caddyfile = renderCaddyfile({ hostname: "localhost", tls: "internal", upstream: `127.0.0.1:${srv.port}`, listen: { http, https }, publicHttpsPort: https, publicPaths: [...PUBLIC_PATHS, "/admin/*"] })
    // Several Caddys share this machine: no admin endpoint on :2019.
    .replace(/^\{\n/, "{\n\tadmin off\n");
  fs.writeFileSync(path.join(dir, "Caddyfile"), caddyfile);
  caddy = spawn("caddy", ["run", "--config", path.join(dir, "Caddyfile"), "--adapter", "caddyfile"], {
    env: { PATH: process.env.PATH, HOME: dir, XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config") },
    stdio: "ignore",
  });
  ca = path.join(dir, "data", "caddy", "pki", "authorities", "local", "root.crt");
  url = `wss://localhost:${https}/ws`;
  // Bounded wait for Caddy's CA and first certificate.
  for (let i = 0; i < 100; i++) {
    if (fs.existsSync(ca) && (await cli(["status", "--url", url, "--ca", ca, "--timeout", "2s"])).code === Exit.OK) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("caddy did not serve in 20 s");
}, 40_000);

afterAll(async () => {
  if (caddy && caddy.exitCode === null) {
    caddy.kill("SIGTERM");
    await new Promise((r) => caddy.once("exit", r));
  }
  await srv.stop();
});

test("status through Caddy: TLS from its local CA, the server's figures", async () => {
  const view = await serverView(srv.ws);
  const r = await cli(["status", "--url", url, "--ca", ca, "--admin-token", ADMIN, "--json"]);
  expect([r.code, r.stderr]).toEqual([Exit.OK, ""]);
  expect(r.json()).toMatchObject({ reachable: { ok: true }, tls: { ok: true, trusted: true }, admin: { ready: true, t: view.t, datoms: view.datoms.length } });
  // Without the CA the certificate is not trusted and nothing is sent.
  expect((await cli(["backup", "now", "--url", url, "--admin-token", ADMIN])).code).toBe(Exit.UNREACHABLE);
});

test("backup pull and restore --from-backup through Caddy", async () => {
  const before = await serverView(srv.ws);
  const dir = tmpDir();
  const flags = ["--url", url, "--ca", ca, "--admin-token", ADMIN];
  expect((await cli(["backup", "now", ...flags])).code).toBe(Exit.OK);
  const pull = await cli(["backup", "pull", "--to", dir, ...flags, "--json"]);
  expect(pull.code).toBe(Exit.OK);
  await seed(srv.ws, 3, 300);
  const restore = await cli(["restore", "--from-backup", pull.json().file, "--yes", ...flags, "--json"]);
  expect([restore.code, restore.stderr]).toEqual([Exit.OK, expect.anything()]);
  expect(await serverView(srv.ws)).toEqual(before);
  const after = await cli(["status", ...flags, "--json"]);
  expect(after.json().admin).toMatchObject({ ready: true, t: before.t });
}, 60_000);
