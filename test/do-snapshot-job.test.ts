import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { renderSnapshotEnv, renderSnapshotScript, SNAPSHOT_ENV, SNAPSHOT_PREFIX, SNAPSHOT_TOKEN_SCOPES } from "../components/digitalocean/snapshot-job";

interface Snap {
  id: string;
  name: string;
  created_at: string;
}

/**
 * A stand-in for the DigitalOcean API on loopback that enforces custom token scopes the
 * way the API does (https://docs.digitalocean.com/reference/api/scopes/) and pages its
 * lists (links.pages.next), with small pages so paging is exercised.
 */
function fakeApi(initial: Snap[], scopes: readonly string[], pageSize = 2) {
  const snapshots = [...initial];
  const calls: string[] = [];
  const denied: string[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      calls.push(`${req.method} ${req.url}`);
      const url = new URL(req.url!, `http://${req.headers.host}`);
      const need = (...required: string[]) => {
        const missing = required.filter((s) => !scopes.includes(s));
        if (missing.length === 0) return true;
        denied.push(`${req.method} ${url.pathname} needs ${missing.join(", ")}`);
        res.writeHead(403, { "content-type": "application/json" }).end(JSON.stringify({ id: "forbidden", message: `missing scope ${missing.join(", ")}` }));
        return false;
      };
      if (req.headers.authorization !== "Bearer dop_v1_secret") return void res.writeHead(401).end();
      if (req.method === "POST" && url.pathname === "/v2/volumes/vol-1/snapshots") {
        const { name, tags } = JSON.parse(body) as { name: string; tags?: string[] };
        if (!need("block_storage_snapshot:create", ...(tags?.length ? ["tag:create"] : []))) return;
        snapshots.push({ id: `new-${snapshots.length}`, name, created_at: new Date(Date.UTC(2026, 10, 30)).toISOString() });
        res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ snapshot: snapshots.at(-1) }));
      } else if (req.method === "GET" && url.pathname === "/v2/volumes/vol-1/snapshots") {
        if (!need("block_storage_snapshot:read")) return;
        const page = Number(url.searchParams.get("page") ?? "1");
        const slice = snapshots.slice((page - 1) * pageSize, page * pageSize);
        const next = page * pageSize < snapshots.length ? `http://${req.headers.host}/v2/volumes/vol-1/snapshots?page=${page + 1}&per_page=${pageSize}` : undefined;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ snapshots: slice, links: { pages: next ? { next } : {} }, meta: { total: snapshots.length } }));
      } else if (req.method === "DELETE" && url.pathname.startsWith("/v2/volumes/snapshots/")) {
        if (!need("block_storage_snapshot:delete")) return;
        const id = url.pathname.split("/").pop();
        snapshots.splice(snapshots.findIndex((s) => s.id === id), 1);
        res.writeHead(204).end();
      } else if (req.method === "DELETE" && url.pathname.startsWith("/v2/snapshots/")) {
        if (!need("snapshot:delete")) return;
        res.writeHead(204).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  return { server, snapshots, calls, denied };
}

async function runJob(api: ReturnType<typeof fakeApi>, retain: number) {
  await new Promise<void>((r) => api.server.listen(0, "127.0.0.1", r));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "do-snap-"));
  const env = path.join(dir, "env");
  fs.writeFileSync(env, renderSnapshotEnv("dop_v1_secret", "vol-1", retain));
  const script = path.join(dir, "snap.sh");
  fs.writeFileSync(script, renderSnapshotScript().replace(SNAPSHOT_ENV, env));
  try {
    return await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn("sh", [script], { env: { ...process.env, DO_API: `http://127.0.0.1:${(api.server.address() as AddressInfo).port}/v2` } });
      let out = "";
      child.stdout.on("data", (c) => (out += c));
      child.stderr.on("data", (c) => (out += c));
      child.on("exit", (c) => resolve({ code: c, out }));
    });
  } finally {
    api.server.close();
  }
}

const day = (d: number) => new Date(Date.UTC(2026, 10, d)).toISOString();

test("with a token of exactly the documented scopes, the job snapshots the volume and keeps its newest N across pages", async () => {
  const api = fakeApi(
    [...[1, 2, 3, 4, 5, 6, 7].map((d) => ({ id: `old-${d}`, name: `${SNAPSHOT_PREFIX}day${d}`, created_at: day(d) })), { id: "manual", name: "before-upgrade", created_at: day(1) }],
    SNAPSHOT_TOKEN_SCOPES,
  );
  const { code, out } = await runJob(api, 3);
  expect(api.denied).toEqual([]);
  expect(out).toMatch(/created sync-auto-\d{8}T\d{6}Z of volume vol-1/);
  expect(code).toBe(0);
  // Nine snapshots in pages of two: every page was read.
  expect(api.calls.filter((c) => c.startsWith("GET")).length).toBe(5);
  // The new one plus the two newest old ones; the manual snapshot is never touched.
  expect(api.snapshots.map((s) => s.id).sort()).toEqual(["manual", "new-8", "old-6", "old-7"]);
  expect(api.calls.filter((c) => c.startsWith("DELETE")).every((c) => c.startsWith("DELETE /v2/volumes/snapshots/"))).toBe(true);
});

test("the scopes the job needs are the ones the README and the stack file tell users to grant", () => {
  const readme = fs.readFileSync(path.join(__dirname, "..", "README.md"), "utf8");
  const stack = fs.readFileSync(path.join(__dirname, "..", "stacks", "Pulumi.do-prod.yaml"), "utf8");
  for (const scope of SNAPSHOT_TOKEN_SCOPES) {
    expect([scope, readme.includes(scope)]).toEqual([scope, true]);
    expect([scope, stack.includes(scope)]).toEqual([scope, true]);
  }
});
