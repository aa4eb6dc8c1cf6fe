/**
 * The client's answer to a server that breaks the protocol, in a real browser, where two
 * things differ from Node: a script may not close with 1002 or 1009 (WebSocket.close throws
 * for them), and frames have no read limit. The scripted server sends garbage once live;
 * the page's client must close with 4002, reconnect with since, and keep its replica.
 * Run: npm --prefix client run test:browser.
 */
import { createRequire } from "node:module";
import path from "node:path";
import type { Browser } from "playwright-core";
import { PROTOCOL_VERSION } from "../../protocol/src/frames";
import { type ScriptedServer, started } from "../../client/test/scripted-server";
import { CHROMIUM } from "./scenario";

const client = path.join(__dirname, "..", "..", "client");
const load = createRequire(path.join(client, "package.json"));
const { chromium } = load("playwright-core") as typeof import("playwright-core");
const esbuild = load("esbuild") as typeof import("esbuild");
const T = 536870912;

let server: ScriptedServer;
let browser: Browser;
afterAll(async () => {
  await browser?.close();
  await server?.close();
});

test("a frame that breaks the protocol: the page's client closes with 4002 (a browser may not send 1002), reconnects with since, keeps its replica", async () => {
  server = await started((ws, attempt, hello) => {
    ws.send(JSON.stringify({ type: "welcome", protocol: PROTOCOL_VERSION, session: `s${attempt}`, name: "alice", t: T, online: 1 }));
    if (hello.since !== T) ws.send(JSON.stringify({ type: "snapshot", t: T, datoms: [[1, "node/title", "base", T, true]] }));
    ws.send(JSON.stringify({ type: "synced", t: T }));
    if (attempt === 1) setTimeout(() => ws.send('{"type":"txs","t":536870913,"time":1,"authors":["x"],"attrs":["node/title"],"txs":[0,0,1,1,0,{"evil":1}]}'), 50);
  });
  // The library as a browser loads it (bundled with datascript), exposed as a global for the test.
  const bundle = await esbuild.build({ entryPoints: [path.join(client, "src", "index.ts")], bundle: true, format: "iife", globalName: "AthensSync", platform: "browser", write: false, logLevel: "silent" });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
  const page = await browser.newPage();
  await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
  const result = await page.evaluate(async (url) => {
    const { connect } = (window as unknown as { AthensSync: typeof import("../../client/src") }).AthensSync;
    const c = connect({ url, token: "t", name: "alice", backoff: { baseMs: 50, maxMs: 200 } });
    const errors: string[] = [];
    c.on("error", (e) => errors.push(e.code));
    const deadline = Date.now() + 10_000;
    while (!(c.stats.connects >= 2 && c.status === "live") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const out = { errors, status: c.status, closeCodes: c.stats.closeCodes, titles: c.q('[:find [?t ...] :where [_ "node/title" ?t]]'), t: c.t };
    c.close();
    return out;
  }, server.url);
  expect(result).toEqual({ errors: ["bad_server_frame"], status: "live", closeCodes: [1002], titles: ["base"], t: T });
  // The server records the code once the close handshake and the TCP teardown are done: wait for that, not a guess.
  for (let i = 0; i < 500 && !server.closeCodes.has(1); i++) await new Promise((r) => setTimeout(r, 10));
  expect(server.closeCodes.get(1)).toBe(4002); // what the browser actually sent
  expect(server.frames.filter((f) => f.type === "hello").map((f) => f.since)).toEqual([undefined, T]);
}, 60_000);
