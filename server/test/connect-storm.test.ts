import { closeAll, connectMany } from "../src/bench/connect";
import { cpuSeconds } from "../src/bench/fanout-bench";
import { Client, exited, type Msg, spawnServer, tmpDir, TOKEN } from "./helpers";

const CLIENTS = 2000;
/**
 * 5,000 in under 5 s is the goal (measured by `npm run bench`); 2,000 get a proportional
 * 2 s. Asserted on the server's CPU time rather than the wall clock, which on a shared
 * machine measures the neighbours. Measured here: 3.4 s (load ~20) when every newcomer was
 * listed to everyone (O(N²) bytes); 1.2 s since idle clients are only counted. The
 * bound leaves room for a loaded machine; the watcher's byte count below is the sharp check.
 */
const BOUND_CPU_S = 3;

describe("connecting thousands of clients", () => {
  test(`${CLIENTS} clients say hello and are synced using under ${BOUND_CPU_S} s of server CPU; an early client is told the count, not each newcomer`, async () => {
    const { child, port } = await spawnServer(tmpDir(), { SYNC_MAX_CONNECTIONS: "10000", SYNC_MAX_CONNECTIONS_PER_IP: "10000", SYNC_MAX_PRE_HELLO_CONNECTIONS: "10000" });
    const url = `ws://127.0.0.1:${port}/ws`;
    try {
      // Let the server finish booting (its snapshot worker loads in the background) before measuring.
      await new Promise((r) => setTimeout(r, 1500));
      // A client that shares its presence watches the storm: it is told the count, not each newcomer.
      const watcher = await Client.connect(url, "watcher");
      watcher.send({ type: "presence", page: "Watching" });
      await watcher.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.name === "watcher"));
      const watched = watcher.messages.length;
      const cpu0 = cpuSeconds(child.pid!);
      const { sockets, ms } = await connectMany(url, CLIENTS, { token: TOKEN, concurrency: 100 });
      // Presence ticks after the last hello belong to the cost of connecting too.
      await new Promise((r) => setTimeout(r, 1000));
      const cpu = cpuSeconds(child.pid!) - cpu0;
      console.log(`${CLIENTS} clients connected and synced in ${ms.toFixed(0)} ms wall, ${cpu.toFixed(2)} s server CPU`);
      try {
        expect(cpu).toBeLessThan(BOUND_CPU_S);
        // O(N) in total: the watcher got a count now and then (at most one a second), never a list of newcomers.
        const seen = watcher.messages.slice(watched).filter((m) => m.type === "presence");
        const bytes = seen.reduce((n, m) => n + JSON.stringify(m).length, 0);
        console.log(`the watcher got ${seen.length} presence frames (${bytes} bytes) during the storm`);
        expect(seen.flatMap((m) => m.peers)).toEqual([]);
        expect(bytes).toBeLessThan(100 * (ms / 1000 + 3));
        await watcher.next((m) => m.type === "presence" && m.online === CLIENTS + 1, 5000, watched);
        // A newcomer gets the count and the list of those who share: the watcher, then itself.
        const late = await Client.connect(url, "late");
        expect(late.messages[0]).toMatchObject({ type: "welcome", online: CLIENTS + 2 });
        const roster = await late.next((m) => m.type === "presence" && m.roster === true);
        expect(roster).toMatchObject({ peers: [expect.objectContaining({ name: "watcher", page: "Watching" })], online: CLIENTS + 2 });
        late.send({ type: "presence", page: null });
        const both = await watcher.next((m) => m.type === "presence" && m.peers.some((p: Msg) => p.name === "late"), 5000, watched);
        expect(both.online).toBe(CLIENTS + 2);
        await Promise.all([late.close(), watcher.close()]);
      } finally {
        await closeAll(sockets);
      }
    } finally {
      child.kill("SIGTERM");
      await exited(child);
    }
  }, 180_000);
});
