import http from "node:http";
import os from "node:os";
import { Client, exited, spawnServer, startServer, tmpDir } from "./helpers";

/** A cross product of every block/order pair: far over a 1 s limit with 3,000 blocks. */
const SLOW = '[:find ?a ?b :where [?a "block/order" ?x] [?b "block/order" ?y] [(< ?x ?y)]]';

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Round-trip times of `count` transactions sent one after another. */
async function ackLatencies(client: Client, prefix: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const reply = await client.transact(`${prefix}-${i}`, [{ "block/uid": `${prefix}-${i}` }]);
    if (reply.type !== "ack") throw new Error(`not acked: ${JSON.stringify(reply)}`);
    out.push(performance.now() - started);
  }
  return out;
}

function healthz(port: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: "/healthz" }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`healthz ${res.statusCode}`))));
      })
      .on("error", reject);
  });
}

describe("queries never stall the writer (issue 9.3)", () => {
  test("while 5 clients run queries that hit the time limit, acks stay fast and /healthz answers in < 100 ms", async () => {
    const { child, port } = await spawnServer(tmpDir(), { SYNC_QUERY_TIMEOUT: "1s" });
    const url = `ws://127.0.0.1:${port}/ws`;
    const clients: Client[] = [];
    try {
      const writer = await Client.connect(url, "writer");
      clients.push(writer);
      for (let i = 0; i < 3; i++) {
        await writer.transact(`seed-${i}`, Array.from({ length: 1000 }, (_, j) => ({ "block/order": i * 1000 + j })));
      }
      await ackLatencies(writer, "warm", 20);
      const idleProbes: number[] = [];
      for (let i = 0; i < 20; i++) idleProbes.push(await healthz(port));
      const idle = await ackLatencies(writer, "idle", 100);

      // Five clients keep a time-limited query running for the whole measurement.
      const slow = await Promise.all(Array.from({ length: 5 }, (_, i) => Client.connect(url, `slow-${i}`)));
      clients.push(...slow);
      let running = true;
      const timeouts: string[] = [];
      const loops = slow.map(async (c, i) => {
        for (let round = 0; running; round++) {
          const id = `slow-${i}-${round}`;
          c.send({ type: "q", id, query: SLOW });
          const reply = await c.next((m) => m.id === id, 15_000);
          timeouts.push(reply.code);
        }
      });
      const probes: number[] = [];
      const poller = (async () => {
        while (running) {
          probes.push(await healthz(port));
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      const loaded = await ackLatencies(writer, "loaded", 100);
      // Keep the load until at least one query has hit its limit, so the timeout path ran.
      while (!timeouts.includes("query_timeout")) await new Promise((r) => setTimeout(r, 50));
      running = false;
      await Promise.all([...loops, poller]);

      // A query on the writer's thread would hold acks and /healthz for its whole 1 s limit,
      // and five clients keep one running throughout: most acks and most probes would wait
      // ~1 s. So typical values decide (p90 of the acks, median and p90 of the probes), not
      // the single worst one, which one scheduling or GC pause on a shared 2-core CI machine
      // can set (one clean-clone run saw a ~70 ms stall that also held /healthz). The floor
      // of 100 ms is still 10x below the stall.
      const idleP90 = percentile(idle, 90);
      const loadedP90 = percentile(loaded, 90);
      const bound = Math.max(2 * idleP90, idleP90 + 100);
      const idleHealth = percentile(idleProbes, 90);
      const healthBound = Math.max(100, 2 * idleHealth);
      const probeMedian = percentile(probes, 50);
      const probeP90 = percentile(probes, 90);
      console.log(
        `ack p90 idle ${idleP90.toFixed(1)} ms, under 5 slow queries ${loadedP90.toFixed(1)} ms (bound ${bound.toFixed(1)} ms), p99 ${percentile(loaded, 99).toFixed(1)} ms; ` +
          `/healthz idle p90 ${idleHealth.toFixed(1)} ms, loaded median ${probeMedian.toFixed(1)} ms, p90 ${probeP90.toFixed(1)} ms, max ${Math.max(...probes).toFixed(1)} ms over ${probes.length} probes (bound ${healthBound.toFixed(1)} ms); ` +
          `replies ${timeouts.length} (${[...new Set(timeouts)].join(",")}); load average ${(os.loadavg()[0]! / os.cpus().length).toFixed(1)} per core`,
      );
      expect(timeouts.every((code) => code === "query_timeout")).toBe(true);
      expect(loadedP90).toBeLessThanOrEqual(bound);
      expect(probeMedian).toBeLessThan(100);
      expect(probeP90).toBeLessThan(healthBound);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      child.kill("SIGTERM");
      await exited(child);
    }
  });
});

describe("query pool", () => {
  let ctx: Awaited<ReturnType<typeof startServer>>;
  afterEach(() => ctx.server.stop());

  test("a second query while one is in flight gets query_busy; the first still answers", async () => {
    ctx = await startServer(undefined, { SYNC_QUERY_TIMEOUT: "500ms" });
    const c = await Client.connect(ctx.url);
    await c.transact("seed", Array.from({ length: 2000 }, (_, i) => ({ "block/order": i })));
    c.send({ type: "q", id: "first", query: SLOW });
    c.send({ type: "q", id: "second", query: '[:find ?e :where [?e "block/order" 1]]' });
    expect(await c.next((m) => m.id === "second")).toMatchObject({ type: "error", code: "query_busy", id: "second" });
    expect(await c.next((m) => m.id === "first")).toMatchObject({ type: "error", code: "query_timeout", id: "first" });
    await c.close();
  });

  test("after a timeout the worker is replaced and sees every commit, including ones made while it restarted", async () => {
    ctx = await startServer(undefined, { SYNC_QUERY_TIMEOUT: "500ms" });
    const c = await Client.connect(ctx.url);
    await c.transact("seed", Array.from({ length: 2000 }, (_, i) => ({ "block/order": i })));
    c.send({ type: "q", id: "slow", query: SLOW });
    expect(await c.next((m) => m.id === "slow")).toMatchObject({ code: "query_timeout" });
    await c.transact("after", [{ "block/uid": "after-timeout", "block/string": "seen" }]);
    // The replacement loads the db before it answers; on a busy machine that can take
    // longer than the 500 ms limit, so ask until it is up (bounded).
    let reply: Record<string, unknown> = {};
    for (let attempt = 0; attempt < 40 && reply.type !== "result"; attempt++) {
      c.send({ type: "q", id: `check${attempt}`, query: '[:find ?s . :where [?e "block/uid" "after-timeout"] [?e "block/string" ?s]]' });
      reply = await c.next((m) => m.id === `check${attempt}`);
      if (reply.type !== "result") expect(reply).toMatchObject({ code: "query_timeout" });
    }
    expect(reply).toMatchObject({ type: "result", rows: "seen" });
    // Commits right before a query are visible to it: the worker applies them first.
    for (let i = 0; i < 5; i++) {
      await c.transact(`n${i}`, [{ "block/uid": `n${i}` }]);
      c.send({ type: "q", id: `count${i}`, query: '[:find (count ?e) . :where [?e "block/uid"]]' });
      expect(await c.next((m) => m.id === `count${i}`)).toMatchObject({ rows: i + 2 });
    }
    await c.close();
  });

  test("results are bounded: too many rows or bytes get query_too_large", async () => {
    ctx = await startServer(undefined, { SYNC_QUERY_MAX_ROWS: "10", SYNC_QUERY_MAX_RESULT_BYTES: "2KiB" });
    const c = await Client.connect(ctx.url);
    await c.transact("seed", Array.from({ length: 20 }, (_, i) => ({ "block/uid": `u${i}`, "block/string": `${"x".repeat(200)}${i}` })));
    c.send({ type: "q", id: "rows", query: '[:find ?e :where [?e "block/uid"]]' });
    expect(await c.next((m) => m.id === "rows")).toMatchObject({ type: "error", code: "query_too_large" });
    // One row (a set of 20 strings), 4 KiB of JSON.
    c.send({ type: "q", id: "bytes", query: '[:find (distinct ?s) . :where [?e "block/string" ?s]]' });
    expect(await c.next((m) => m.id === "bytes")).toMatchObject({ type: "error", code: "query_too_large" });
    c.send({ type: "q", id: "ok", query: '[:find (count ?e) . :where [?e "block/uid"]]' });
    expect(await c.next((m) => m.id === "ok")).toEqual({ type: "result", id: "ok", rows: 20 });
    await c.close();
  });
});
