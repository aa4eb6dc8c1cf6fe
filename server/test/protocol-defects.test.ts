import { Client, exited, type Msg, spawnServer, startServer, tmpDir } from "./helpers";
import { RawSocket } from "./attack-helpers";

/** Issue 9 items 8 and 9 ("Errors"): smaller protocol defects. */
describe("protocol defects", () => {
  let ctx: Awaited<ReturnType<typeof startServer>>;
  beforeAll(async () => {
    ctx = await startServer();
  });
  afterAll(() => ctx.server.stop());

  const nest = (depth: number, inner: unknown, wrap: (x: unknown) => unknown) => {
    let v = inner;
    for (let i = 0; i < depth; i++) v = wrap(v);
    return v;
  };

  test.each([
    ["as the op", (d: number) => [nest(d, ":db/add", (x) => [x])]],
    ["as a ref value", (d: number) => [[":db/add", -1, "block/refs", nest(d, 1, (x) => [x])]]],
    ["as a map value", (d: number) => [{ "block/uid": nest(d, "x", (x) => ({ k: x })) }]],
    ["as a lookup ref", (d: number) => [[":db/add", nest(d, ["block/uid", "x"], (x) => ["block/uid", x]), "block/string", "s"]]],
  ])("tx-data nested 50,000 deep %s → rejected invalid_tx (not a stack overflow)", async (_label, build) => {
    const c = await Client.connect(ctx.url);
    const t = ctx.server.sync.t;
    const reply = await c.transact("deep", build(50_000) as unknown[]);
    expect(reply).toMatchObject({ type: "rejected", code: "invalid_tx" });
    expect(reply.message).not.toMatch(/call stack/i);
    // Not the client's own megabyte of brackets reflected back.
    expect(reply.message.length).toBeLessThan(300);
    expect(ctx.server.sync.t).toBe(t);
    await c.close();
  });

  test("a text frame that is not UTF-8 → close 1007 (before and after hello)", async () => {
    const before = new RawSocket(ctx.url);
    await before.opened;
    before.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await before.closed).code).toBe(1007);
    const after = await Client.connect(ctx.url);
    after.ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false });
    expect((await after.closed).code).toBe(1007);
  });

  test("error frames carry no library internals or stack text", async () => {
    const c = await Client.connect(ctx.url, "auditor");
    const a = await c.transact("mk-a", [{ ":db/id": "a", "block/uid": "audit-a" }]);
    const b = await c.transact("mk-b", [{ ":db/id": "b", "block/uid": "audit-b" }]);
    const attempts: unknown[][] = [
      [[":db/add", b.tempids.b, "block/uid", "audit-a"]], // unique conflict
      [[":db/add", ["block/uid", "nowhere"], "block/string", "x"]], // lookup ref to nothing
      [{ ":db/id": ["block/uid", "nowhere"], "block/string": "x" }],
      [[":db/add", -1, "block/uid", "dup"], [":db/add", -2, "block/uid", "dup"], [":db/add", -1, "node/title", "t1"], [":db/add", -2, "node/title", "t2"]],
      [[":db/retract", a.tempids.a, "block/children", ["block/uid", "nowhere"]]],
      [[":db/add", a.tempids.a, "constructor", "x"]],
      [JSON.parse(`{"__proto__": "x", "block/uid": "p"}`)],
      [[":db/add", -1, "block/uid", "y".repeat(300_000)]],
    ];
    const replies: Msg[] = [];
    for (const [i, tx] of attempts.entries()) replies.push(await c.transact(`audit-${i}`, tx));
    c.send(`{"type":"transact","id":"${"i".repeat(500)}"}`);
    c.send({ type: "transact", id: "x", tx: [], ["k".repeat(5000)]: 1 });
    await c.next((m) => m.type === "error" && m.message.length > 0, 5000, c.messages.length - 1);
    const frames = c.messages.filter((m) => m.type === "error" || m.type === "rejected");
    expect(frames.length).toBeGreaterThanOrEqual(attempts.length);
    for (const f of frames) {
      expect(f.message).not.toMatch(/#datascript|cljs|datascript\.|Datom|\bat \S+ \(|\.js:\d+|\n|Error:/);
      expect(f.message.length).toBeLessThanOrEqual(300);
    }
    expect(replies[0]).toMatchObject({ type: "rejected", code: "tx_failed" });
    expect(replies[1]).toMatchObject({ type: "rejected", code: "tx_failed" });
    await c.close();
  });
});

describe("draining", () => {
  test("transactions in flight during a SIGTERM drain get rejected shutting_down before the close", async () => {
    // The writer sends its next transaction as each ack arrives: with inline fsyncs that is
    // ~850 a second, past the default rate limit (200 a second, bursts of 200), and the
    // ~256th frame got `error rate_limited` (dropped, neither acked nor rejected): the
    // test then failed in 2 of 3 full suites. The limit is not what this test is about.
    const { child, port } = await spawnServer(tmpDir(), { SYNC_RATE_LIMIT: "1000000" });
    const c = await Client.connect(`ws://127.0.0.1:${port}/ws`, "writer");
    const sent: string[] = [];
    const answered = new Map<string, Msg>();
    const errors: Msg[] = [];
    let n = 0;
    const sendOne = () => {
      const id = `d${n++}`;
      sent.push(id);
      c.send({ type: "transact", id, tx: [{ "block/uid": id }] });
    };
    c.ws.on("message", (data) => {
      const m = JSON.parse(data.toString()) as Msg;
      if (m.type === "error") errors.push(m);
      if (m.type === "ack" || m.type === "rejected") {
        answered.set(m.id, m);
        if (m.type === "ack") sendOne();
      }
    });
    sendOne();
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGTERM");
    expect((await c.closed).code).toBe(1012);
    await exited(child);
    expect(errors).toEqual([]);
    const unanswered = sent.filter((id) => !answered.has(id));
    expect(unanswered).toEqual([]);
    const last = answered.get(sent[sent.length - 1]!)!;
    expect(last).toMatchObject({ type: "rejected", code: "shutting_down" });
  });
});
