import path from "node:path";
import { spawnServer } from "../../server/test/helpers";
import { ServerProcess, tmpDir } from "./harness";

const DEMO_DIR = path.join(__dirname, "..", "dist", "demo");

describe("the server's demo route (SYNC_DEMO)", () => {
  test("SYNC_DEMO=1 serves the built page at / and its files; nothing else", async () => {
    const server = await new ServerProcess(undefined, { SYNC_DEMO: "1", SYNC_DEMO_DIR: DEMO_DIR }).start();
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const index = await fetch(`${base}/`);
      expect(index.status).toBe(200);
      expect(index.headers.get("content-type")).toContain("text/html");
      expect(index.headers.get("content-security-policy")).toContain("default-src 'self'");
      expect(await index.text()).toContain('<script type="module" src="app.js">');
      const app = await fetch(`${base}/app.js`);
      expect(app.headers.get("content-type")).toContain("text/javascript");
      expect((await app.text()).length).toBeGreaterThan(10_000);
      for (const p of ["/../package.json", "/%2e%2e/%2e%2e/server/package.json", "/demo/", "/index.htm", "/app.js/"]) {
        expect((await fetch(`${base}${p}`)).status).toBe(404);
      }
      expect((await fetch(`${base}/`, { method: "POST" })).status).toBe(405);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await server.kill();
    }
  });

  test("off by default: / is 404", async () => {
    const server = await new ServerProcess().start();
    try {
      expect((await fetch(`http://127.0.0.1:${server.port}/`)).status).toBe(404);
    } finally {
      await server.kill();
    }
  });

  test("SYNC_DEMO=1 with no built page: boot stops with a message naming SYNC_DEMO_DIR and the fix", async () => {
    const empty = tmpDir("no-demo-");
    const started = spawnServer(tmpDir(), { SYNC_DEMO: "1", SYNC_DEMO_DIR: empty });
    const err = await started.then(
      () => null,
      (e: Error) => e.message,
    );
    expect(err).toContain("SYNC_DEMO_DIR: no index.html in");
    expect(err).toContain("npm --prefix client run build");
  });
});
