/**
 * The rendered Caddyfile on a real Caddy, on loopback: the public-path allowlist, HSTS,
 * `?token=` redaction in the access log, and an HTTP→HTTPS redirect that keeps a
 * published port other than 443 (the local stack's 8443).
 */
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { renderCaddyfile } from "../components/render/caddyfile";
import { PUBLIC_PATHS } from "../components/spec";

const HTTP_PORT = 18000 + (process.pid % 1000);
const HTTPS_PORT = HTTP_PORT + 1000;
let caddy: ChildProcess;
let upstream: http.Server;
let log = "";
const seen: string[] = [];
const heard: Array<{ method: string; url: string; authorization: string | undefined }> = [];

function get(url: string, opts: https.RequestOptions = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const mod = url.startsWith("https") ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(url, { rejectUnauthorized: false, servername: "localhost", headers: { host: "localhost" }, ...opts }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.setTimeout(5000, () => req.destroy(new Error("timeout")));
    req.end();
  });
}

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    seen.push(req.url!);
    heard.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization });
    res.writeHead(200).end(`upstream ${req.url}`);
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "caddy-live-"));
  const file = path.join(dir, "Caddyfile");
  fs.writeFileSync(
    file,
    renderCaddyfile({ hostname: "localhost", tls: "internal", upstream: `127.0.0.1:${(upstream.address() as AddressInfo).port}`, publicHttpsPort: 8443, listen: { http: HTTP_PORT, https: HTTPS_PORT } }),
  );
  caddy = spawn("caddy", ["run", "--adapter", "caddyfile", "--config", file], { env: { ...process.env, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, HOME: dir } });
  caddy.stdout!.on("data", (c) => (log += c));
  caddy.stderr!.on("data", (c) => (log += c));
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await get(`https://127.0.0.1:${HTTPS_PORT}/healthz`);
      break;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`caddy did not start: ${String(error)}\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}, 30_000);

afterAll(async () => {
  caddy?.kill("SIGTERM");
  await new Promise((r) => upstream.close(r));
});

test("only the public paths reach the server; /metrics and /readyz get 404 at the edge", async () => {
  for (const p of PUBLIC_PATHS.map((p) => p.replace("/*", "/status"))) expect([p, (await get(`https://127.0.0.1:${HTTPS_PORT}${p}`)).status]).toEqual([p, 200]);
  for (const p of ["/metrics", "/readyz", "/", "/ws/../metrics", "/admin", "/administrator", "/admin/../metrics", "/admin/../readyz", "/ws/../admin/status/../../metrics"]) {
    expect([p, (await get(`https://127.0.0.1:${HTTPS_PORT}${p}`)).status]).toEqual([p, 404]);
  }
  // (/readyz does reach the server: from Caddy's own active health check, not from clients.)
  expect(seen.filter((u) => /metrics|^\/admin(?!\/status$)/.test(u))).toEqual([]);
});

test("the operator's /admin/* endpoints reach the server with their method, query and Authorization header", async () => {
  seen.length = 0;
  heard.length = 0;
  const res = await get(`https://127.0.0.1:${HTTPS_PORT}/admin/backup/download?name=x.db`, { method: "POST", headers: { host: "localhost", authorization: "Bearer admin-s3cr3t" } });
  expect(res.status).toBe(200);
  // Only /admin requests: Caddy's own /readyz health check (every 10 s) may land meanwhile.
  expect(heard.filter((h) => h.url.startsWith("/admin"))).toEqual([{ method: "POST", url: "/admin/backup/download?name=x.db", authorization: "Bearer admin-s3cr3t" }]);
  // The access log never holds the admin token either (once the request's line is written).
  for (let i = 0; i < 500 && !log.includes('"uri":"/admin/backup/download'); i++) await new Promise((r) => setTimeout(r, 10));
  expect(log).toContain('"uri":"/admin/backup/download');
  expect(log).not.toContain("admin-s3cr3t");
});

test("HSTS is on, and the Server header is gone", async () => {
  const res = await get(`https://127.0.0.1:${HTTPS_PORT}/healthz`);
  expect(res.headers["strict-transport-security"]).toMatch(/max-age=31536000/);
  expect(res.headers.server).toBeUndefined();
});

test("the access log never holds the token from ?token=", async () => {
  await get(`https://127.0.0.1:${HTTPS_PORT}/ws?token=s3cr3t-token-value&since=5`);
  // Caddy writes the line after the response: wait for it, so the negative check below means something.
  for (let i = 0; i < 500 && !log.includes('"uri":"/ws?'); i++) await new Promise((r) => setTimeout(r, 10));
  expect(log).toMatch(/"uri":"\/ws\?[^"]*token=REDACTED/);
  expect(log).not.toContain("s3cr3t-token-value");
});

test("HTTP redirects to HTTPS on the published port (8443), keeping path and query", async () => {
  const res = await get(`http://127.0.0.1:${HTTP_PORT}/ws?x=1`);
  expect([301, 302, 307, 308]).toContain(res.status);
  expect(res.headers.location).toBe("https://localhost:8443/ws?x=1");
});
