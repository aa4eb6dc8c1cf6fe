/**
 * status over TLS, as through Caddy: an HTTPS proxy in front of the real server process
 * with a certificate made by openssl. The certificate's expiry and trust are read from a
 * TLS connection; an untrusted or nearly expired certificate makes status exit 1.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import { Exit } from "../src/exit-codes";
import { ADMIN, cli, startServer, tmpDir } from "./helpers";

let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.stop();
});

/** A self-signed certificate for localhost valid for `days`. */
function certificate(days: number): { key: string; cert: string; certFile: string } {
  const dir = tmpDir("ops-tls-");
  const key = path.join(dir, "key.pem");
  const certFile = path.join(dir, "cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", String(days), "-subj", "/CN=localhost/O=Test Local Authority", "-addext", "subjectAltName=DNS:localhost", "-keyout", key, "-out", certFile], { stdio: "ignore" });
  return { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(certFile, "utf8"), certFile };
}

/** Terminates TLS and forwards to the server, as Caddy does. */
async function tlsProxy(days: number): Promise<{ url: string; ca: string; close: () => void }> {
  const { key, cert, certFile } = certificate(days);
  const proxy = https.createServer({ key, cert }, (req, res) => {
    const up = http.request({ host: "127.0.0.1", port: srv.port, path: req.url, method: req.method, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode!, upRes.headers);
      upRes.pipe(res);
    });
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  return { url: `wss://localhost:${(proxy.address() as { port: number }).port}/ws`, ca: certFile, close: () => proxy.close() };
}

test("a trusted certificate (--ca): expiry and issuer reported, admin figures through the proxy, exit 0", async () => {
  const p = await tlsProxy(90);
  try {
    const r = await cli(["status", "--url", p.url, "--ca", p.ca, "--admin-token", ADMIN, "--json"]);
    expect([r.code, r.stderr]).toEqual([Exit.OK, ""]);
    const s = r.json();
    expect(s.tls).toMatchObject({ ok: true, trusted: true, problem: null, issuer: "Test Local Authority", subject: "localhost" });
    expect(s.tls.daysLeft).toBeGreaterThanOrEqual(88);
    expect(s.tls.daysLeft).toBeLessThanOrEqual(90);
    expect(s.reachable).toMatchObject({ ok: true, status: 200 });
    expect(s.admin).toMatchObject({ ok: true, ready: true });
  } finally {
    p.close();
  }
});

test("an untrusted certificate: status still reads it and says why; nothing is sent over it (exit 4)", async () => {
  const p = await tlsProxy(90);
  try {
    const r = await cli(["status", "--url", p.url, "--admin-token", ADMIN, "--json"]);
    expect(r.code).toBe(Exit.UNREACHABLE);
    const s = r.json();
    expect(s.tls).toMatchObject({ ok: false, trusted: false, problem: expect.stringMatching(/not trusted/) });
    expect(s.reachable).toMatchObject({ ok: false, error: expect.stringMatching(/not trusted/) });
    expect((await cli(["backup", "now", "--url", p.url, "--admin-token", ADMIN])).code).toBe(Exit.UNREACHABLE);
  } finally {
    p.close();
  }
});

test("a certificate past three quarters of its lifetime: renewal is overdue, exit 1; at two thirds it is fine", async () => {
  const p = await tlsProxy(4);
  try {
    const day = 86_400_000;
    const fine = await cli(["status", "--url", p.url, "--ca", p.ca, "--json"], { now: new Date(Date.now() + 2.6 * day) });
    expect(fine.code).toBe(Exit.OK);
    expect(fine.json().tls).toMatchObject({ ok: true, renewalOverdue: false, daysLeft: 1 });
    const r = await cli(["status", "--url", p.url, "--ca", p.ca], { now: new Date(Date.now() + 3.1 * day) });
    expect(r.code).toBe(Exit.FAILED);
    expect(r.stdout).toMatch(/\(0 days\): RENEWAL IS OVERDUE/);
  } finally {
    p.close();
  }
});
