/**
 * The demo outliner in headless Chromium through the local stack: the server image (which
 * carries the demo), the compose file and the Caddyfile rendered by the project's renderers
 * with the demo on (as `npm run local` runs them), Caddy terminating TLS with `tls internal`.
 * Chromium trusts exactly this stack's local CA: the SPKI hashes of its root and
 * intermediate are pinned (--ignore-certificate-errors-spki-list; Chromium honours it only
 * with a --user-data-dir, which playwright-core always passes, a fresh one per launch).
 * The scenario itself is test/browser/scenario.ts.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client, clientView } from "../../server/test/helpers";
import { renderLocalStack } from "../../scripts/local-stack";
import type { DemoTarget } from "../browser/target";
import { buildServerImage, Compose, requireEngine, sh, until } from "./docker";

// playwright-core and the scenario are type-checked with the client package (client/tsconfig.json).
const { outlinerScenario, loadErrorWithoutTargetArgs, ARTIFACTS } = require("../browser/scenario") as {
  outlinerScenario: (title: string, makeTarget: () => Promise<DemoTarget>) => void;
  loadErrorWithoutTargetArgs: (url: string) => Promise<string>;
  ARTIFACTS: string;
};

// Ports of their own, so this stack never meets stack.test.ts's (8443) or a developer's `npm run local`.
const HTTPS_PORT = Number(process.env.E2E_BROWSER_HTTPS_PORT ?? 9443);
const HTTP_PORT = Number(process.env.E2E_BROWSER_HTTP_PORT ?? 9080);
const RUN = `e2e-${process.pid}-browser`;

/** base64(sha256(SubjectPublicKeyInfo)), the form --ignore-certificate-errors-spki-list takes. */
function spkiHash(pemFile: string): string {
  const spki = new crypto.X509Certificate(fs.readFileSync(pemFile)).publicKey.export({ type: "spki", format: "der" });
  return crypto.createHash("sha256").update(spki).digest("base64");
}

outlinerScenario("demo outliner in Chromium, two pages, through Caddy (tls internal) to the local stack", async (): Promise<DemoTarget> => {
  await requireEngine();
  const started = Date.now();
  const image = await buildServerImage(`athens-sync-server:${RUN}`, "e2e-v1");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "athens-e2e-browser-"));
  const stack = renderLocalStack({ dir, image, build: "e2e-browser", caddyImage: process.env.E2E_CADDY_IMAGE, httpsPort: HTTPS_PORT, httpPort: HTTP_PORT, demo: true });
  const compose = new Compose(`athens-${RUN}`, stack.composeFile);
  const origin = `https://localhost:${HTTPS_PORT}`;
  const served = () =>
    until("the demo page and /healthz through Caddy", async () => {
      if (!fs.existsSync(stack.caCert)) return false;
      const health = await sh("curl", ["-fsS", "--cacert", stack.caCert, `${origin}/healthz`]);
      const page = await sh("curl", ["-fsS", "--cacert", stack.caCert, `${origin}/`]);
      return health === "ok" && page.includes("app.js");
    });
  await compose.run("down", "--remove-orphans").catch(() => undefined);
  let pins: string[];
  try {
    await compose.run("up", "-d");
    await served();
    console.log(`local stack with the demo up through Caddy in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    const pki = path.dirname(stack.caCert);
    pins = ["root.crt", "intermediate.crt"].map((f) => spkiHash(path.join(pki, f)));
    // The pin is what makes TLS pass: without it Chromium refuses the stack's certificate.
    const unpinned = await loadErrorWithoutTargetArgs(`${origin}/`);
    if (!/ERR_CERT_AUTHORITY_INVALID/.test(unpinned)) throw new Error(`Chromium without the CA pin should refuse ${origin} (ERR_CERT_AUTHORITY_INVALID), got: ${unpinned || "the page loaded"}`);
  } catch (err) {
    // No target means no close(): take the stack down here, or its containers keep the
    // ports and the next run's Caddy cannot start ("Host is already in use").
    await compose.run("down", "--timeout", "30").catch(() => undefined);
    throw err;
  }
  return {
    origin,
    token: stack.token,
    chromiumArgs: [`--ignore-certificate-errors-spki-list=${pins.join(",")}`],
    artifacts: path.join(ARTIFACTS, "caddy"),
    stopServer: async () => void (await compose.run("stop", "--timeout", "30", "sync")),
    startServer: async () => {
      await compose.run("start", "sync");
      await served();
    },
    facts: async () => {
      const raw = await Client.connect(stack.url, "observer", {}, { token: stack.token, ca: fs.readFileSync(stack.caCert) });
      const view = clientView(raw.messages);
      raw.ws.terminate();
      return view;
    },
    close: async () => {
      if (process.env.E2E_SHOW_LOGS) console.log(await compose.run("logs", "--no-color", "--tail", "50").catch((e: Error) => e.message));
      await compose.run("down", "--timeout", "30").catch(() => undefined);
      await sh("docker", ["rmi", `athens-sync-server:${RUN}`]).catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});
