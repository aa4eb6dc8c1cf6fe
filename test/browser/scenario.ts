/**
 * The demo outliner in headless Chromium (Debian's /usr/bin/chromium, driven by
 * playwright-core), two pages of two people against one target (target.ts): a server process
 * (outliner.test.ts) or the local stack through Caddy with `tls internal`
 * (test/e2e/demo-browser.test.ts, in CI). Screenshots and latency.json go to the target's
 * artifacts directory (.e2e/browser/ in the checkout); UPDATE_README_SHOT=1 also refreshes the
 * README's docs/demo-outliner.png.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import type { DemoTarget } from "./target";

// playwright-core is the client package's dev dependency; the e2e suite runs from the repo root.
const { chromium } = createRequire(path.join(__dirname, "..", "..", "client", "package.json"))("playwright-core") as typeof import("playwright-core");

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const README_SHOT = path.join(__dirname, "..", "..", "docs", "demo-outliner.png");
export const ARTIFACTS = path.join(__dirname, "..", "..", ".e2e", "browser");

if (!fs.existsSync(CHROMIUM)) {
  throw new Error(`the browser test needs Chromium at ${CHROMIUM}: apt-get install -y chromium (scripts/setup.sh e2e), or set CHROMIUM=/path/to/chrome`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * page.goto, again (up to 3 tries in all) when Chromium aborts the navigation with
 * ERR_NETWORK_CHANGED: it does so whenever an interface comes or goes, and the stack's
 * containers have just added theirs (a veth whose IPv6 address settles a moment later).
 * Any other error is the test's to see.
 */
export async function gotoRetrying(page: Page, url: string, options: { timeout?: number } = {}): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(url, options);
      return;
    } catch (err) {
      if (attempt >= 3 || !/ERR_NETWORK_CHANGED/.test((err as Error).message)) throw err;
      await sleep(500);
    }
  }
}

/**
 * What Chromium says when it opens url with only the common flags: the error text, or "" when
 * the page loaded. Shows that a target's extra flags (a CA pin) are what make its TLS pass.
 */
export async function loadErrorWithoutTargetArgs(url: string): Promise<string> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    const page = await browser.newPage();
    return await gotoRetrying(page, url, { timeout: 15_000 }).then(
      () => "",
      (err: Error) => err.message,
    );
  } finally {
    await browser.close();
  }
}

type Win = Window & { outliner: { client: { t: number; status: string; stats: { lastSince?: number; snapshots: number }; listen(fn: () => void): () => void } }; __keys: number[]; __seen: number[] };

const blockValues = (page: Page) => page.$$eval(".block input", (els) => (els as HTMLInputElement[]).map((e) => e.value));

export function outlinerScenario(title: string, makeTarget: () => Promise<DemoTarget>): void {
  describe(title, () => {
    let target: DemoTarget;
    const shot = (page: Page, name: string) => page.screenshot({ path: path.join(target.artifacts, `${name}.png`) });
    let browser: Browser;
    let a: Page;
    let b: Page;

    beforeAll(async () => {
      target = await makeTarget();
      fs.mkdirSync(target.artifacts, { recursive: true });
      // playwright-core passes a fresh temporary --user-data-dir (and --headless); each context has its own storage.
      browser = await chromium.launch({ executablePath: CHROMIUM, args: [...ARGS, ...target.chromiumArgs] });
      a = await (await browser.newContext({ viewport: { width: 900, height: 560 } })).newPage();
      b = await (await browser.newContext({ viewport: { width: 900, height: 560 } })).newPage();
      for (const page of [a, b]) {
        page.on("pageerror", (err) => console.error("page error:", err.message));
        // Warnings are the demo's "edit failed" and the client's errors (below): always worth seeing.
        page.on("console", (m) => {
          if (process.env.DEBUG_BROWSER || m.type() === "warning") console.log(`page ${m.type()}:`, m.text());
        });
        // A slow network on demand: window.__sendDelayMs holds every frame the page sends (in order).
        await page.addInitScript(() => {
          const send = WebSocket.prototype.send;
          let last = 0;
          WebSocket.prototype.send = function (this: WebSocket, data: string) {
            const delay = (window as unknown as { __sendDelayMs?: number }).__sendDelayMs ?? 0;
            if (delay <= 0) return send.call(this, data);
            last = Math.max(Date.now() + delay, last);
            setTimeout(() => {
              if (this.readyState === WebSocket.OPEN) send.call(this, data);
            }, last - Date.now());
          };
        });
      }
      await gotoRetrying(a, `${target.origin}/#token=${target.token}&name=alice`);
      await gotoRetrying(b, `${target.origin}/#token=${target.token}&name=bob`);
      await a.waitForSelector("body[data-status=live]");
      await b.waitForSelector("body[data-status=live]");
      for (const page of [a, b]) {
        await page.evaluate(() => {
          const c = (window as unknown as { outliner: { client: { on(e: string, fn: (...a: unknown[]) => void): void } } }).outliner.client;
          c.on("error", (e) => console.warn("sync error:", (e as Error & { code: string }).code, (e as Error).message));
          c.on("status", (s) => console.info("sync status:", s));
        });
      }
    }, 600_000);

    afterAll(async () => {
      await browser?.close();
      await target?.close();
    }, 120_000);

    test("A creates a page and types blocks; B sees them within a second; B's presence shows on A", async () => {
      expect(a.url()).not.toContain(target.token); // the token leaves the address bar
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
      // The README's picture (committed) is refreshed only on request, so a run leaves the checkout clean.
      if (process.env.UPDATE_README_SHOT) await a.screenshot({ path: README_SHOT });
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
      const KEYS = 30;
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
      fs.writeFileSync(path.join(target.artifacts, "latency.json"), JSON.stringify({ origin: target.origin, keys: KEYS, medianMs: median, p95Ms: p95, all: lat }, null, 2));
      expect(median).toBeLessThan(250); // generous: a shared 2-core machine
    });

    test("server restart: both pages show reconnecting, then text typed during the outage arrives, nothing lost", async () => {
      const before = await blockValues(a);
      const stopping = Date.now();
      await target.stopServer();
      const stopMs = Date.now() - stopping;
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
      const starting = Date.now();
      await target.startServer();
      const back = Date.now();
      console.log(`server stopped in ${stopMs} ms, serving again ${back - starting} ms after its start (${target.origin})`);
      // The pages retry on their own backoff (0.5 s doubling, with jitter); nothing here hurries them.
      await a.waitForSelector("body[data-status=live]", { timeout: 45_000 });
      await b.waitForSelector("body[data-status=live]", { timeout: 45_000 });
      console.log(`both pages live ${Date.now() - back} ms after the server was back`);
      const expected = [`${before[0]} (2 litres)`, `${before[1]}, unsweetened`, before[2]];
      // Each page shows the other's outage edit once it leaves that block (its own edit is in its input).
      await a.click("#title");
      await b.click("#title");
      await a.waitForFunction((want) => [...document.querySelectorAll<HTMLInputElement>(".block input")].map((e) => e.value).join("|") === want, expected.join("|"), { timeout: 5000 });
      await b.waitForFunction((want) => [...document.querySelectorAll<HTMLInputElement>(".block input")].map((e) => e.value).join("|") === want, expected.join("|"), { timeout: 5000 });
      // The server holds exactly what the pages show.
      const strings = (await target.facts()).map((f) => JSON.parse(f) as [number, string, string]).filter(([, attr]) => attr === "block/string").map(([, , v]) => v);
      expect(strings.sort()).toEqual([...expected].sort());
      await shot(a, "3-alice-after-restart");
      await shot(b, "3-bob-after-restart");
    });

    test("a reload resumes from IndexedDB with since, not a snapshot", async () => {
      // The replica is saved at most every 500 ms: reload once B's t has held still for longer
      // than that, so the saved t is the one read here (on a busy machine the previous test's
      // edits may still be arriving when this one starts).
      const tNow = () => b.evaluate(() => (window as unknown as Win).outliner.client.t);
      let t = await tNow();
      for (let stable = 0, waited = 0; stable < 1500 && waited < 20_000; waited += 250) {
        await new Promise((r) => setTimeout(r, 250));
        const next = await tNow();
        stable = next === t ? stable + 250 : 0;
        t = next;
      }
      await b.reload();
      await b.waitForSelector("body[data-status=live]");
      const stats = await b.evaluate(() => (window as unknown as Win).outliner.client.stats);
      expect(stats.lastSince).toBe(t);
      expect(stats.snapshots).toBe(0);
      await b.click("#pages >> text=Groceries");
      expect((await blockValues(b)).length).toBe(3);
    });

    test("typing faster than the server answers (A's frames held 400 ms): nothing typed is lost", async () => {
      await a.evaluate(() => ((window as unknown as { __sendDelayMs: number }).__sendDelayMs = 400));
      try {
        await a.fill("#new-title", "Slow");
        await a.press("#new-title", "Enter");
        await a.waitForSelector(".block input:focus", { timeout: 10_000 });
        // Each block's text is typed before the transaction that creates the block is applied.
        await a.keyboard.type("one");
        await a.keyboard.press("Enter");
        await a.keyboard.type("two");
        await a.keyboard.press("Tab");
        await a.keyboard.press("Enter");
        await a.keyboard.type("three");
        await a.click("#title");
        const want = "one|two|three";
        const shows = (page: Page) => page.waitForFunction((w) => [...document.querySelectorAll<HTMLInputElement>(".block input")].map((e) => e.value).join("|") === w, want, { timeout: 15_000 });
        await shows(a).catch(async () => expect((await blockValues(a)).join("|")).toBe(want));
        await b.click("#pages >> text=Slow", { timeout: 10_000 });
        await shows(b).catch(async () => expect((await blockValues(b)).join("|")).toBe(want));
        expect(await b.$$eval(".children .block input", (els) => (els as HTMLInputElement[]).map((e) => e.value))).toEqual(["two", "three"]);
      } finally {
        await a.evaluate(() => ((window as unknown as { __sendDelayMs: number }).__sendDelayMs = 0));
      }
    });
  });
}
