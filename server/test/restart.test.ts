import { Client, clientView, startServer, tmpDir } from "./helpers";

describe("restart on the same data dir", () => {
  test.each([
    ["log replay only", {}],
    ["snapshot plus log", { SYNC_SNAPSHOT_EVERY: "7", SYNC_LOG_RETAIN: "3" }],
  ])("the db after restart is identical (%s)", async (_label, extra) => {
    const dataDir = tmpDir();
    let { server, url } = await startServer(dataDir, extra);
    const alice = await Client.connect(url);
    for (let i = 0; i < 25; i++) {
      await alice.transact(`a${i}`, [
        { ":db/id": -1, "block/uid": `u${i}`, "block/string": `text ${i}` },
        [":db/add", -1, "block/order", i],
        ...(i > 0 ? [[":db/add", ["block/uid", `u${i - 1}`], "block/children", -1]] : []),
      ]);
      if (i % 5 === 4) await alice.transact(`r${i}`, [[":db/retractEntity", ["block/uid", `u${i - 2}`]]]);
    }
    const before = clientView(alice.messages);
    const t = server.sync.t;
    await server.stop();

    ({ server, url } = await startServer(dataDir, extra));
    try {
      expect(server.sync.t).toBe(t);
      const bob = await Client.connect(url, "bob");
      expect(clientView(bob.messages)).toEqual(before);
      // Ids keep counting from where they were: no entity or tx id is reused.
      const ack = await bob.transact("next", [{ ":db/id": -1, "block/uid": "new" }]);
      expect(ack.t).toBe(t + 1);
      expect(Math.max(...before.map((f) => JSON.parse(f)[0] as number))).toBeLessThan(ack.tempids["-1"]);
      await bob.close();
    } finally {
      await server.stop();
    }
  });

  test("a second server on the same data dir refuses to start", async () => {
    const { server, dataDir } = await startServer();
    try {
      await expect(startServer(dataDir)).rejects.toThrow(/in use by a running sync server/);
    } finally {
      await server.stop();
    }
  });
});
