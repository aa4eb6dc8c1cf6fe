import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { renderSnapshotEnv, renderSnapshotScript, SNAPSHOT_ENV, SNAPSHOT_PREFIX } from "../components/digitalocean/snapshot-job";

interface Snap {
  id: string;
  name: string;
  created_at: string;
}

/** A stand-in for the DigitalOcean API on loopback, recording every call. */
function fakeApi(initial: Snap[]) {
  const snapshots = [...initial];
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      calls.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      const url = new URL(req.url!, "http://x");
      if (req.method === "POST" && url.pathname === "/v2/volumes/vol-1/snapshots") {
        const { name } = JSON.parse(body) as { name: string };
        snapshots.push({ id: `new-${snapshots.length}`, name, created_at: new Date(Date.UTC(2026, 10, 30)).toISOString() });
        res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ snapshot: snapshots.at(-1) }));
      } else if (req.method === "GET" && url.pathname === "/v2/volumes/vol-1/snapshots") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ snapshots }));
      } else if (req.method === "DELETE" && url.pathname.startsWith("/v2/snapshots/")) {
        const id = url.pathname.split("/").pop();
        snapshots.splice(snapshots.findIndex((s) => s.id === id), 1);
        res.writeHead(204).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  return { server, snapshots, calls };
}

test("the DigitalOcean snapshot job snapshots the volume and keeps only its newest N", async () => {
  const day = (d: number) => new Date(Date.UTC(2026, 10, d)).toISOString();
  const api = fakeApi([
    ...[1, 2, 3, 4, 5].map((d) => ({ id: `old-${d}`, name: `${SNAPSHOT_PREFIX}day${d}`, created_at: day(d) })),
    { id: "manual", name: "before-upgrade", created_at: day(1) },
  ]);
  await new Promise<void>((r) => api.server.listen(0, "127.0.0.1", r));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "do-snap-"));
  const env = path.join(dir, "env");
  fs.writeFileSync(env, renderSnapshotEnv("dop_v1_secret", "vol-1", 3));
  const script = path.join(dir, "snap.sh");
  fs.writeFileSync(script, renderSnapshotScript().replace(SNAPSHOT_ENV, env));
  try {
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn("sh", [script], { env: { ...process.env, DO_API: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}/v2` } });
      let out = "";
      child.stdout.on("data", (c) => (out += c));
      child.stderr.on("data", (c) => (out += c));
      child.on("exit", (c) => resolve({ code: c, out }));
    });
    expect(out).toMatch(/created sync-auto-\d{8}T\d{6}Z of volume vol-1/);
    expect(code).toBe(0);
    expect(api.calls.every((c) => c.endsWith("Bearer dop_v1_secret"))).toBe(true);
    // The new one plus the two newest old ones; the manual snapshot is never touched.
    expect(api.snapshots.map((s) => s.id).sort()).toEqual(["manual", "new-6", "old-4", "old-5"]);
    expect(out.match(/deleted/g)).toHaveLength(3);
  } finally {
    api.server.close();
  }
});
