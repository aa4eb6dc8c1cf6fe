/**
 * The demo outliner in headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core), two pages against a real server process serving the demo at /.
 * Screenshots go to test/browser/.artifacts/ (the README's is docs/demo-outliner.png).
 * Run: npm --prefix client run test:browser
 */
import fs from "node:fs";
import path from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { ServerProcess, TOKEN, sleep } from "../../client/test/harness";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"];
const ARTIFACTS = path.join(__dirname, ".artifacts");
const DEMO_DIR = path.join(__dirname, "..", "..", "client", "dist", "demo");
const README_SHOT = path.join(__dirname, "..", "..", "docs", "demo-outliner.png");

if (!fs.existsSync(CHROMIUM)) {
  throw new Error(`the browser test needs Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM=/path/to/chrome)`);
}

type Win = Window & { outliner: { client: { t: number; status: string; stats: { lastSince?: number; snapshots: number }; listen(fn: () => void): () => void } }; __keys: number[]; __seen: number[] };

const blockValues = (page: Page) => page.$$eval(".block input", (els) => (els as HTMLInputElement[]).map((e) => e.value));
const status = (page: Page) => page.getAttribute("body", "data-status");
const shot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });

describe("demo outliner in Chromium, two pages, a real server", () => {
  let server: ServerProcess;
  let browser: Browser;
  let a: Page;
  let b: Page;

  beforeAll(async () => {
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    server = await new ServerProcess(undefined, { SYNC_DEMO: "1", SYNC_DEMO_DIR: DEMO_DIR }).start();
    // playwright gives the browser a fresh temporary --user-data-dir; each context has its own storage.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    a = await (await browser.newContext({ viewport: { width: 900, height: 560 } })).newPage();
    b = await (await browser.newContext({ viewport: { width: 900, height: 560 } })).newPage();
    for (const page of [a, b]) {
      page.on("pageerror", (err) => console.error("page error:", err.message));
      if (process.env.DEBUG_BROWSER) page.on("console", (m) => console.log("page:", m.text()));
    }
    await a.goto(`http://127.0.0.1:${server.port}/#token=${TOKEN}&name=alice`);
    await b.goto(`http://127.0.0.1:${server.port}/#token=${TOKEN}&name=bob`);
    await a.waitForSelector("body[data-status=live]");
    await b.waitForSelector("body[data-status=live]");
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.kill();
  });

  test("A creates a page and types blocks; B sees them within a second; B's presence shows on A", async () => {
    expect(a.url()).not.toContain(TOKEN); // the token leaves the address bar
    await a.fill("#new-title", "Groceries");
    await a.press("#new-title", "Enter");
    await a.waitForSelector(".block input:focus");
    // B opens the page as soon as it appears in B's list.
    await b.click("#pages >> text=Groceries", { timeout: 1000 });
    await a.keyboard.type("milk");
    await a.keyboard.press("Enter");
    await a.keyboard.type("oat milk");
    await a.keyboard.press("Tab");
    await a.keyboard.press("Enter");
    await a.keyboard.type("bread");
    const typed = Date.now();
    const want = "milk|oat milk|bread";
    const got = await b
      .waitForFunction((w) => [...document.querySelectorAll<HTMLInputElement>(".block input")].map((e) => e.value).join("|") === w, want, { timeout: 5000 })
      .then(() => want)
      .catch(async () => `A shows ${(await blockValues(a)).join("|")}, B shows ${(await blockValues(b)).join("|")}`);
    const elapsed = Date.now() - typed;
    expect(got).toBe(want);
    console.log(`B rendered A's three blocks ${elapsed} ms after A's last keystroke`);
    expect(elapsed).toBeLessThan(1000);
    // A's own view: the same three rows, none left over from the blocks it made before the server had them.
    expect((await blockValues(a)).join("|")).toBe(want);
    expect(await a.$$eval(".block", (els) => els.length)).toBe(3);
    // Tab nested "oat milk" (and the block made after it) under "milk".
    expect(await b.$$eval(".children .block input", (els) => (els as HTMLInputElement[]).map((e) => e.value))).toEqual(["oat milk", "bread"]);

    await b.click(".block input >> nth=0");
    await a.waitForSelector('.block:has(input[value="milk"]) .cursor:text("bob"), .block .cursor:text("bob")', { timeout: 2000 });
    await a.waitForSelector('#online li[data-name="bob"]:text("Groceries")', { timeout: 2000 });
    await shot(a, "1-alice-sees-bob");
    await shot(b, "1-bob");
    fs.mkdirSync(path.dirname(README_SHOT), { recursive: true });
    await a.screenshot({ path: README_SHOT });
  });

  test("keystroke on A to render on B", async () => {
    await b.click("#pages >> text=Groceries");
    await a.click(".block input >> nth=2"); // "bread": B is not typing there
    await a.keyboard.press("End");
    await a.evaluate(() => {
      const w = window as unknown as Win;
      w.__keys = [];
      document.addEventListener("keydown", () => w.__keys.push(performance.timeOrigin + performance.now()), true);
    });
    await b.evaluate(() => {
      const w = window as unknown as Win;
      w.__seen = [];
      // Registered after the app's own listener, so it runs right after the render.
      w.outliner.client.listen(() => {
        const v = [...document.querySelectorAll<HTMLInputElement>(".block input")].map((e) => e.value).find((s) => s.startsWith("bread"));
        const n = (v ?? "bread").length - "bread".length;
        while (w.__seen.length < n) w.__seen.push(performance.timeOrigin + performance.now());
      });
    });
    const KEYS = 20;
    for (let i = 0; i < KEYS; i++) {
      await a.keyboard.type(String.fromCharCode(97 + (i % 26)));
      await sleep(60);
    }
    await b.waitForFunction((n) => (window as unknown as Win).__seen.length >= n, KEYS, { timeout: 5000 });
    const keys: number[] = await a.evaluate(() => (window as unknown as Win).__keys);
    const seen: number[] = await b.evaluate(() => (window as unknown as Win).__seen);
    const lat = keys.map((k, i) => seen[i]! - k).sort((x, y) => x - y);
    const median = lat[Math.floor(lat.length / 2)]!;
    const p95 = lat[Math.ceil(lat.length * 0.95) - 1]!;
    console.log(`keystroke on A -> render on B over ${KEYS} keys: median ${median.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${lat[lat.length - 1]!.toFixed(1)} ms`);
    fs.writeFileSync(path.join(ARTIFACTS, "latency.json"), JSON.stringify({ keys: KEYS, medianMs: median, p95Ms: p95, all: lat }, null, 2));
    expect(median).toBeLessThan(250); // generous: a shared 2-core machine
  });

  test("server restart: both pages show reconnecting, then text typed during the outage arrives, nothing lost", async () => {
    const before = await blockValues(a);
    await server.kill("SIGTERM");
    await a.waitForFunction(() => document.body.dataset.status !== "live", undefined, { timeout: 5000 });
    await b.waitForFunction(() => document.body.dataset.status !== "live", undefined, { timeout: 5000 });
    expect(await a.textContent("#status")).toMatch(/reconnecting|connecting/);
    expect(await b.textContent("#status")).toMatch(/reconnecting|connecting/);
    // Both type while the server is down: A in "milk", B in "oat milk".
    await a.click(".block input >> nth=0");
    await a.keyboard.press("End");
    await a.keyboard.type(" (2 litres)");
    await b.click(".block input >> nth=1");
    await b.keyboard.press("End");
    await b.keyboard.type(", unsweetened");
    await shot(a, "2-alice-reconnecting");
    await shot(b, "2-bob-reconnecting");
    await server.start();
    await a.waitForSelector("body[data-status=live]", { timeout: 15_000 });
    await b.waitForSelector("body[data-status=live]", { timeout: 15_000 });
    const expected = [`${before[0]} (2 litres)`, `${before[1]}, unsweetened`, before[2]];
    // Each page shows the other's outage edit once it leaves that block (its own edit is in its input).
    await a.click("#title");
    await b.click("#title");
    await a.waitForFunction((want) => [...document.querySelectorAll<HTMLInputElement>(".block input")].map((e) => e.value).join("|") === want, expected.join("|"), { timeout: 5000 });
    await b.waitForFunction((want) => [...document.querySelectorAll<HTMLInputElement>(".block input")].map((e) => e.value).join("|") === want, expected.join("|"), { timeout: 5000 });
    // The server holds exactly what the pages show.
    const strings = (await server.facts()).map((f) => JSON.parse(f) as [number, string, string]).filter(([, attr]) => attr === "block/string").map(([, , v]) => v);
    expect(strings.sort()).toEqual([...expected].sort());
    await shot(a, "3-alice-after-restart");
    await shot(b, "3-bob-after-restart");
  });

  test("a reload resumes from IndexedDB with since, not a snapshot", async () => {
    const t = await b.evaluate(() => (window as unknown as Win).outliner.client.t);
    await b.reload();
    await b.waitForSelector("body[data-status=live]");
    const stats = await b.evaluate(() => (window as unknown as Win).outliner.client.stats);
    expect(stats.lastSince).toBeGreaterThanOrEqual(t - 5); // persisted at most 500 ms before the reload
    expect(stats.snapshots).toBe(0);
    await b.click("#pages >> text=Groceries");
    expect((await blockValues(b)).length).toBe(3);
  });
});
