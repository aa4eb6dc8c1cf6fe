/**
 * The demo outliner in Chromium against a server process on loopback serving the demo at /
 * (SYNC_DEMO=1): the quick loop while working on the client or the demo.
 * Run: npm --prefix client run test:browser. CI runs the same scenario through Caddy
 * (test/e2e/demo-browser.test.ts).
 */
import path from "node:path";
import { ServerProcess, TOKEN } from "../../client/test/harness";
import { ARTIFACTS, outlinerScenario } from "./scenario";

const DEMO_DIR = path.join(__dirname, "..", "..", "client", "dist", "demo");

outlinerScenario("demo outliner in Chromium, two pages, a server process", async () => {
  const server = await new ServerProcess(undefined, { SYNC_DEMO: "1", SYNC_DEMO_DIR: DEMO_DIR }).start();
  return {
    origin: `http://127.0.0.1:${server.port}`,
    token: TOKEN,
    chromiumArgs: [],
    artifacts: path.join(ARTIFACTS, "process"),
    stopServer: () => server.kill("SIGTERM"),
    startServer: async () => void (await server.start()),
    facts: () => server.facts(),
    close: () => server.kill(),
  };
});
