import { Client, startServer } from "./helpers";

describe("presence", () => {
  test("join list, updates, no spoofing, offline on close", async () => {
    const { server, url } = await startServer();
    try {
      const alice = await Client.connect(url, "alice");
      const aliceSession = alice.messages[0]!.session as string;
      alice.send({ type: "presence", page: "Welcome", block: "b-1" });
      await alice.next((m) => m.type === "presence" && m.page === "Welcome");

      const bob = await Client.connect(url, "bob");
      const welcome = bob.messages[0]!;
      expect(welcome.type).toBe("welcome");
      const bobSession = welcome.session as string;
      expect(welcome.presence).toEqual(
        expect.arrayContaining([
          { session: aliceSession, name: "alice", page: "Welcome", block: "b-1" },
          { session: bobSession, name: "bob", page: null, block: null },
        ]),
      );
      expect(await alice.next((m) => m.type === "online")).toEqual({ type: "online", session: bobSession, name: "bob" });

      // A forged session or name in the frame is refused, and never moves alice.
      bob.send({ type: "presence", page: "Spoof", session: aliceSession, name: "alice" });
      expect(await bob.next((m) => m.type === "error")).toMatchObject({ code: "bad_message" });
      bob.send({ type: "presence", page: "Bob's page" });
      const update = await alice.next((m) => m.type === "presence" && m.page === "Bob's page");
      expect(update).toEqual({ type: "presence", session: bobSession, name: "bob", page: "Bob's page", block: null });
      expect(alice.messages.some((m) => m.type === "presence" && m.page === "Spoof")).toBe(false);

      await bob.close();
      expect(await alice.next((m) => m.type === "offline")).toEqual({ type: "offline", session: bobSession, name: "bob" });
      const carol = await Client.connect(url, "carol");
      expect(carol.messages[0]!.presence.map((p: { name: string }) => p.name).sort()).toEqual(["alice", "carol"]);
      await Promise.all([alice.close(), carol.close()]);
    } finally {
      await server.stop();
    }
  });
});
