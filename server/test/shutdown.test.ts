import { Client, clientView, exited, spawnServer, tmpDir, waitFor } from "./helpers";

describe("SIGTERM", () => {
  test("drains: clients get 1012, every acked tx is kept, exit code 0", async () => {
    const dataDir = tmpDir();
    const { child, port, output } = await spawnServer(dataDir);
    const url = `ws://127.0.0.1:${port}/ws`;
    const a = await Client.connect(url, "a");
    const b = await Client.connect(url, "b");
    const acked = new Set<string>();
    let n = 0;
    a.ws.on("message", (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === "ack") acked.add(m.id);
      if (m.type === "ack" || m.type === "synced") a.send({ type: "transact", id: `k${n++}`, tx: [{ "block/uid": `k${n}` }] });
    });
    a.send({ type: "transact", id: `k${n++}`, tx: [{ "block/uid": `k${n}` }] });
    // A writer in full flow when SIGTERM lands: more than 5 acks first (each is a real fsync in the child).
    await waitFor("more than 5 acks", () => acked.size > 5);
    child.kill("SIGTERM");
    const [closeA, closeB, exit] = await Promise.all([a.closed, b.closed, exited(child)]);
    expect(closeA.code).toBe(1012);
    expect(closeB.code).toBe(1012);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(output()).toMatch(/"msg":"shutdown complete"/);
    expect(acked.size).toBeGreaterThan(5);

    const again = await spawnServer(dataDir);
    try {
      const c = await Client.connect(`ws://127.0.0.1:${again.port}/ws`, "c");
      const uids = new Set(clientView(c.messages).map((f) => JSON.parse(f)[2]));
      for (const id of acked) expect(uids.has(`k${Number(id.slice(1)) + 1}`)).toBe(true);
      await c.close();
    } finally {
      again.child.kill("SIGTERM");
      expect((await exited(again.child)).code).toBe(0);
    }
  });

  test("a bad environment stops boot with the variable named", async () => {
    const run = spawnServer(tmpDir(), { SYNC_PORT: "eighty", SYNC_TOKNE: "x" });
    await expect(run).rejects.toThrow(/SYNC_PORT[\s\S]*SYNC_TOKNE: unknown variable/);
  });
});
