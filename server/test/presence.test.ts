import { Client, type Msg, startServer } from "./helpers";

/** The presence list a client holds after applying every presence frame it received. */
function roster(messages: Msg[]): Map<string, Msg> {
  const peers = new Map<string, Msg>();
  for (const m of messages) {
    if (m.type !== "presence") continue;
    if (m.roster) peers.clear();
    for (const p of m.peers) peers.set(p.session, p);
    for (const l of m.left) peers.delete(l.session);
  }
  return peers;
}

describe("presence", () => {
  test("roster after synced, coalesced updates, no spoofing, leave", async () => {
    const { server, url } = await startServer();
    try {
      const alice = await Client.connect(url, "alice");
      const aliceSession = alice.messages[0]!.session as string;
      expect(alice.messages[0]).toMatchObject({ type: "welcome", online: 1 });
      expect(alice.messages[0]!.presence).toBeUndefined();
      alice.send({ type: "presence", page: "Welcome", block: "b-1" });
      await alice.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.page === "Welcome"));

      const bob = await Client.connect(url, "bob");
      const welcome = bob.messages[0]!;
      expect(welcome).toMatchObject({ type: "welcome", online: 2 });
      const bobSession = welcome.session as string;
      // Bob has not shared yet: the roster lists alice only, and counts both.
      const bobRoster = await bob.next((m) => m.type === "presence" && m.roster === true);
      expect(bobRoster).toMatchObject({ peers: [{ session: aliceSession, name: "alice", page: "Welcome", block: "b-1" }], left: [], online: 2 });
      bob.send({ type: "presence", page: null });
      const shared = await alice.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.session === bobSession));
      expect(shared).toMatchObject({ peers: [{ session: bobSession, name: "bob", page: null, block: null }], online: 2 });

      // A forged session or name in the frame is refused, and never moves alice.
      bob.send({ type: "presence", page: "Spoof", session: aliceSession, name: "alice" });
      expect(await bob.next((m) => m.type === "error")).toMatchObject({ code: "bad_message" });
      // Ten focus changes within one tick reach alice as one frame with the last state.
      const before = alice.frames.length;
      for (let i = 0; i < 10; i++) bob.send({ type: "presence", page: `Bob's page ${i}` });
      const update = await alice.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.page === "Bob's page 9"));
      expect(update.peers).toEqual([{ session: bobSession, name: "bob", page: "Bob's page 9", block: null }]);
      const presenceFrames = alice.frames.slice(before).filter((f) => f.type === "presence");
      expect(presenceFrames.length).toBeLessThanOrEqual(2);
      expect(alice.messages.some((m) => m.type === "presence" && m.peers.some((p: Msg) => p.page === "Spoof"))).toBe(false);

      await bob.close();
      const left = await alice.next((m) => m.type === "presence" && m.left.length > 0);
      expect(left.left).toEqual([{ session: bobSession, name: "bob" }]);
      expect([...roster(alice.messages).keys()]).toEqual([aliceSession]);
      const carol = await Client.connect(url, "carol");
      carol.send({ type: "presence", page: "Carol's" });
      await carol.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.name === "carol"));
      expect([...roster(carol.messages).values()].map((p) => p.name).sort()).toEqual(["alice", "carol"]);
      await Promise.all([alice.close(), carol.close()]);
    } finally {
      await server.stop();
    }
  });

  test("a client that joins and leaves within one tick is never announced", async () => {
    const { server, url } = await startServer(undefined, { SYNC_PRESENCE_INTERVAL: "300ms" });
    try {
      const alice = await Client.connect(url, "alice");
      await alice.next((m) => m.type === "presence" && m.roster === true);
      const ghost = await Client.connect(url, "ghost");
      ghost.send({ type: "presence", page: "Boo" });
      await ghost.close();
      const bob = await Client.connect(url, "bob");
      bob.send({ type: "presence", page: null });
      await alice.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.name === "bob"), 3000);
      const names = alice.messages.filter((m) => m.type === "presence").flatMap((m) => [...m.peers, ...m.left].map((p: Msg) => p.name));
      expect(names).not.toContain("ghost");
      await Promise.all([alice.close(), bob.close()]);
    } finally {
      await server.stop();
    }
  });

  test("clients that never share are counted, not listed: a changed count alone goes out at most once a second", async () => {
    const { server, url } = await startServer(undefined, { SYNC_PRESENCE_INTERVAL: "10ms" });
    try {
      const alice = await Client.connect(url, "alice");
      alice.send({ type: "presence", page: "Alice's" });
      await alice.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.name === "alice"));
      const from = alice.messages.length;
      const started = Date.now();
      // Twenty idle clients connect, one after another, over a few hundred ms.
      const idle: Client[] = [];
      for (let i = 0; i < 20; i++) idle.push(await Client.connect(url, `idle-${i}`));
      const roster = await idle[19]!.next((m) => m.type === "presence" && m.roster === true);
      expect(roster).toMatchObject({ peers: [expect.objectContaining({ name: "alice" })], online: 21 });
      await alice.next((m) => m.type === "presence" && m.online === 21, 5000, from);
      const elapsed = Date.now() - started;
      const frames = alice.messages.slice(from).filter((m) => m.type === "presence");
      // No idle client was ever listed, and the count went out at most once per second (plus the first).
      expect(frames.flatMap((m) => [...m.peers, ...m.left])).toEqual([]);
      expect(frames.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
      // Idle clients leaving: never in anyone's `left`, only the count drops.
      const mark = alice.messages.length;
      await Promise.all(idle.map((c) => c.close()));
      const after = await alice.next((m) => m.type === "presence" && m.online === 1, 5000, mark);
      expect(after).toMatchObject({ peers: [], left: [] });
      await alice.close();
    } finally {
      await server.stop();
    }
  });
  test("a client repeating the same presence is announced once, not re-broadcast every tick", async () => {
    const { server, url } = await startServer(undefined, { SYNC_PRESENCE_INTERVAL: "20ms" });
    try {
      const alice = await Client.connect(url, "alice");
      const mallory = await Client.connect(url, "mallory");
      const from = alice.messages.length;
      // 40 identical frames over ~20 ticks, within the rate limit.
      for (let i = 0; i < 40; i++) {
        mallory.send({ type: "presence", page: "Same", block: "b-same" });
        await new Promise((r) => setTimeout(r, 10));
      }
      mallory.send({ type: "presence", page: "Moved" });
      await alice.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.page === "Moved"), 5000, from);
      const announced = alice.messages.slice(from).filter((m) => m.type === "presence").flatMap((m) => m.peers as Msg[]).filter((p) => p.name === "mallory");
      expect(announced.map((p) => p.page)).toEqual(["Same", "Moved"]);
      // Moving back to an earlier place is a change again.
      mallory.send({ type: "presence", page: "Same" });
      await alice.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.name === "mallory" && p.page === "Same"), 5000, alice.messages.length);
      await Promise.all([alice.close(), mallory.close()]);
    } finally {
      await server.stop();
    }
  });
});
