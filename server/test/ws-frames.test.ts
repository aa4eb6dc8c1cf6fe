import type { AddressInfo } from "node:net";
import WebSocket, { WebSocketServer } from "ws";
import { Connection } from "../src/connection";
import { textFrames } from "../src/sync/ws-frames";
import { silentLogger } from "../src/logger";
import { Client, startServer } from "./helpers";

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

describe("Connection.sendFrames", () => {
  test("the server never agrees to permessage-deflate: prebuilt frames would overtake a compressed ack", async () => {
    const { server, url } = await startServer();
    try {
      const client = new Client(url);
      await client.opened;
      // ws clients offer permessage-deflate unless told not to; the answer is in `extensions`.
      expect(client.ws.extensions).toBe("");
      client.ws.close();
    } finally {
      await server.stop();
    }
  });

  test("writes nothing once the connection is closing, and the close frame is the last thing sent", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", perMessageDeflate: false });
    await new Promise((resolve) => wss.once("listening", resolve));
    try {
      const accepted = new Promise<WebSocket>((resolve) => wss.once("connection", resolve));
      const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
      const got: string[] = [];
      client.on("message", (data) => got.push(data.toString()));
      const closed = new Promise<number>((resolve) => client.once("close", resolve));
      const handlers = { hello() {}, transact() {}, presence() {}, query() {}, closed() {}, errorSent() {} };
      const conn = new Connection(await accepted, handlers, { messagesPerSecond: 100, bytesPerMinute: 1 << 20, helloTimeoutMs: 10_000 }, silentLogger);
      expect(conn.sendFrames(textFrames([Buffer.from("first"), Buffer.from("second")]))).toBe(true);
      conn.close(1000, "bye");
      expect(conn.sendFrames(textFrames([Buffer.from("late")]))).toBe(false);
      expect(await closed).toBe(1000);
      expect(got).toEqual(["first", "second"]);
    } finally {
      await new Promise((resolve) => wss.close(resolve));
    }
  });
});
