/**
 * `npm run local` renders the VM's stack plus the demo outliner (scripts/local-stack.ts):
 * SYNC_DEMO=1 for the server, the demo's files on Caddy's public-path allowlist, and the
 * URL it prints. The e2e suite renders the same function without the demo: a VM's stack.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { PUBLIC_PATHS, SERVICE } from "../components/spec";
import { DEMO_PATHS, renderLocalStack } from "../scripts/local-stack";

const render = (demo: boolean) =>
  renderLocalStack({ dir: fs.mkdtempSync(path.join(os.tmpdir(), "local-stack-")), image: "sha256:abc", httpsPort: 8443, token: "t0ken", demo });
const publicPaths = (caddyfile: string) => fs.readFileSync(caddyfile, "utf8").match(/@public path (.+)/)![1]!.split(" ");
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const serverEnv = (composeFile: string) => (parse(fs.readFileSync(composeFile, "utf8")) as any).services[SERVICE.server].environment as Record<string, string>;

test("with the demo: SYNC_DEMO=1, Caddy forwards the demo's paths, and the URL carries the token in its fragment", () => {
  const stack = render(true);
  expect(serverEnv(stack.composeFile).SYNC_DEMO).toBe("1");
  expect(publicPaths(stack.caddyfile)).toEqual([...PUBLIC_PATHS, ...DEMO_PATHS]);
  expect(stack.demoUrl).toBe("https://localhost:8443/#token=t0ken&name=you");
});

test("without it (the e2e suite, a VM): no SYNC_DEMO, only the public paths, no demo URL", () => {
  const stack = render(false);
  expect(serverEnv(stack.composeFile).SYNC_DEMO).toBeUndefined();
  expect(publicPaths(stack.caddyfile)).toEqual([...PUBLIC_PATHS]);
  expect(stack.demoUrl).toBeUndefined();
});

test("DEMO_PATHS holds every file the demo page loads (a new asset must be added there, or Caddy 404s it)", () => {
  const html = fs.readFileSync(path.join(__dirname, "..", "client", "demo", "index.html"), "utf8");
  const assets = [...html.matchAll(/(?:src|href)="([^"#:]+)"/g)].map((m) => `/${m[1]!.replace(/^\.?\//, "")}`);
  expect(assets.length).toBeGreaterThan(0);
  expect(assets.filter((a) => !(DEMO_PATHS as readonly string[]).includes(a))).toEqual([]);
});

test("the local stack's server gets an admin token of its own (SYNC_ADMIN_TOKEN), kept across renders", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-stack-"));
  const first = renderLocalStack({ dir, image: "sha256:abc", token: "t0ken" });
  const env = fs.readFileSync(first.envFile, "utf8");
  expect(env).toContain(`SYNC_ADMIN_TOKEN=${first.adminToken}\n`);
  expect(first.adminToken).toMatch(/^[0-9a-f]{48}$/);
  expect(first.adminToken).not.toBe(first.token);
  expect(fs.statSync(first.envFile).mode & 0o777).toBe(0o600);
  expect(renderLocalStack({ dir, image: "sha256:abc", token: "t0ken" }).adminToken).toBe(first.adminToken);
});
