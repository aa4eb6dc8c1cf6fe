import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { textFrames } from "../src/sync/ws-frames";

/**
 * Frames built once for every receiver must be what a real WebSocket client reads, at
 * each of RFC 6455's three length encodings and their edges, and they must keep their
 * place among the frames `ws` itself sends on the same socket.
 */
describe("prebuilt text frames", () => {
  let wss: WebSocketServer;
  let server: WebSocket;
  let client: WebSocket;
  const received: string[] = [];

  beforeAll(async () => {
    wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    await new Promise((resolve) => wss.once("listening", resolve));
    const connected = new Promise<WebSocket>((resolve) => wss.once("connection", resolve));
    client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
    client.on("message", (data, isBinary) => {
      expect(isBinary).toBe(false);
      received.push(data.toString());
    });
    server = await connected;
  });

  afterAll(async () => {
    client.terminate();
    await new Promise((resolve) => wss.close(resolve));
  });

  const until = async (n: number) => {
    for (let i = 0; i < 500 && received.length < n; i++) await new Promise((r) => setTimeout(r, 10));
    return received.splice(0, received.length);
  };
  const socket = () => (server as unknown as { _socket: { write(b: Buffer): boolean } })._socket;

  test.each([0, 1, 125, 126, 127, 65535, 65536, 300_000])("a %i-byte payload arrives whole", async (size) => {
    // Multi-byte UTF-8 near the end: the length counts bytes, not characters.
    const text = size < 2 ? "x".repeat(size) : "y".repeat(size - 2) + "é";
    expect(Buffer.byteLength(text)).toBe(size);
    socket().write(textFrames([Buffer.from(text)]));
    expect(await until(1)).toEqual([text]);
  });

  test("several frames in one write stay in order, between ws's own sends", async () => {
    const payloads = ["a", "b".repeat(200), "c".repeat(70_000), "d"].map((s) => Buffer.from(s));
    server.send("before");
    socket().write(textFrames(payloads));
    server.send("after");
    expect(await until(6)).toEqual(["before", ...payloads.map(String), "after"]);
  });
});
