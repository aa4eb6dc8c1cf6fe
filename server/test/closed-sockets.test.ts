/**
 * A socket the server has closed (close frame sent) is not read any more, and is cut off
 * after a short grace. It used to be served until ws's 30 s close timeout (found in
 * review): a peer that ignores the close frame (StubbornSocket) could still say hello,
 * take a connection slot, and commit transactions that were never acked.
 */
import fs from "node:fs";
import { PROTOCOL_VERSION } from "../../protocol/src";
import { startServer, tmpDir } from "./helpers";
import { StubbornSocket } from "./raw-ws";

const hello = (name: string) => ({ type: "hello", protocol: PROTOCOL_VERSION, name });
const tx = (id: string, uid: string) => ({ type: "transact", id, tx: [{ "block/uid": uid, "block/string": "written after the close" }] });

describe("a socket the server closed is not served any more", () => {
  let ctx: Awaited<ReturnType<typeof startServer>> | undefined;
  const sockets: StubbornSocket[] = [];
  /** A fresh server in a fresh data dir; it, the dir and every socket opened are gone after the test. */
  const serve = async (extra: Record<string, string> = {}) => (ctx = await startServer(tmpDir(), extra));
  const stubborn = (port: number) => {
    const s = new StubbornSocket(port);
    sockets.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await ctx?.server.stop();
    if (ctx) fs.rmSync(ctx.dataDir, { recursive: true, force: true });
    ctx = undefined;
  });

  test("closed 1008 for a message before hello, its hello and transaction after the close are not read", async () => {
    const { server, port } = await serve();
    const s = stubborn(port);
    await s.opened;
    s.send(tx("early", "x0"));
    expect(await s.next((m) => m.type === "error" && m.code === "hello_required")).not.toBeNull();
    expect(await s.closed()).toBe(true);
    expect(s.closeCode).toBe(1008);
    // The server has sent its close frame; this peer ignores it.
    const t0 = server.sync.t;
    s.send(hello("intruder"));
    s.send(tx("after-close", "x1"));
    await new Promise((r) => setTimeout(r, 500));
    expect({ committed: server.sync.t - t0 }).toEqual({ committed: 0 });
  });

  test("the oldest pre-hello socket, evicted with 1013 past SYNC_MAX_PRE_HELLO_CONNECTIONS, cannot take a connection slot", async () => {
    const { port } = await serve({ SYNC_MAX_PRE_HELLO_CONNECTIONS: "1", SYNC_MAX_CONNECTIONS: "1" });
    const a = stubborn(port);
    const b = stubborn(port);
    await a.opened;
    await b.opened;
    expect(await a.next((m) => m.type === "error" && m.code === "too_many_connections")).not.toBeNull();
    expect(await a.closed()).toBe(true);
    expect(a.closeCode).toBe(1013);
    a.send(hello("evicted"));
    await new Promise((r) => setTimeout(r, 300));
    // b, the socket the pool kept, says hello: the only slot should be free.
    b.send(hello("legit"));
    const answer = await b.next((m) => m.type === "welcome" || m.type === "error", 3000);
    expect(answer).toEqual(expect.objectContaining({ type: "welcome" }));
  });

  test("closed 1008 for flooding past the rate limit, its later transactions are not committed", async () => {
    const { server, port } = await serve({ SYNC_RATE_LIMIT: "5" });
    const s = stubborn(port);
    await s.opened;
    s.send(hello("flooder"));
    expect(await s.next((m) => m.type === "synced")).not.toBeNull();
    for (let i = 0; i < 20; i++) s.send({ type: "presence", page: `p${i}` });
    expect(await s.closed()).toBe(true);
    expect(s.closeCode).toBe(1008);
    const t0 = server.sync.t;
    // The bucket refills; the "closed" socket goes on writing.
    await new Promise((r) => setTimeout(r, 1200));
    for (let i = 0; i < 3; i++) s.send(tx(`late-${i}`, `late-${i}`));
    await s.next((m) => m.type === "ack" && m.id === "late-2", 3000);
    const acks = s.messages.filter((m) => m.type === "ack").length;
    expect({ acks, committed: server.sync.t - t0 }).toEqual({ acks: 0, committed: 0 });
  });

  test("a peer that ignores the close frame is cut off within the close grace (5 s), not ws's 30 s", async () => {
    const { port } = await serve();
    const s = stubborn(port);
    await s.opened;
    s.send(tx("early", "x0"));
    expect(await s.closed()).toBe(true);
    const closedAt = performance.now();
    for (let i = 0; i < 100 && !s.ended; i++) await new Promise((r) => setTimeout(r, 100));
    expect(s.ended).toBe(true);
    expect(performance.now() - closedAt).toBeLessThan(7000);
  });
});
