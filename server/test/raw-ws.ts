import crypto from "node:crypto";
import net from "node:net";
import { TOKEN, type Msg } from "./helpers";

/**
 * A minimal WebSocket client on a bare TCP socket that, unlike every real library, never
 * answers a close frame: it records it and keeps sending, like a hostile peer would.
 */
export class StubbornSocket {
  readonly messages: Msg[] = [];
  closeCode: number | null = null;
  ended = false;
  private buf = Buffer.alloc(0);
  private readonly socket: net.Socket;
  readonly opened: Promise<void>;
  private waiters: Array<() => void> = [];

  constructor(port: number, token = TOKEN) {
    this.socket = net.connect(port, "127.0.0.1");
    const key = crypto.randomBytes(16).toString("base64");
    this.opened = new Promise((resolve, reject) => {
      let upgraded = false;
      this.socket.on("data", (chunk: Buffer) => {
        this.buf = Buffer.concat([this.buf, chunk]);
        if (!upgraded) {
          const end = this.buf.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = this.buf.subarray(0, end).toString();
          this.buf = this.buf.subarray(end + 4);
          if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(head));
          upgraded = true;
          resolve();
        }
        this.parse();
      });
      this.socket.once("error", reject);
      this.socket.on("close", () => {
        this.ended = true;
        this.wake();
      });
      this.socket.write(
        `GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\nAuthorization: Bearer ${token}\r\n\r\n`,
      );
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private parse(): void {
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (opcode === 1) this.messages.push(JSON.parse(payload.toString()) as Msg);
      else if (opcode === 8) this.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      // Pings (9) are answered: this peer is alive, it only ignores the close.
      else if (opcode === 9) this.frame(10, payload);
      this.wake();
    }
  }

  private frame(opcode: number, payload: Buffer): void {
    const mask = crypto.randomBytes(4);
    const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    let head: Buffer;
    if (payload.length < 126) head = Buffer.from([0x80 | opcode, 0x80 | payload.length]);
    else if (payload.length < 65536) {
      head = Buffer.alloc(4);
      head[0] = 0x80 | opcode;
      head[1] = 0x80 | 126;
      head.writeUInt16BE(payload.length, 2);
    } else {
      head = Buffer.alloc(10);
      head[0] = 0x80 | opcode;
      head[1] = 0x80 | 127;
      head.writeBigUInt64BE(BigInt(payload.length), 2);
    }
    this.socket.write(Buffer.concat([head, mask, masked]));
  }

  /** Writes bytes as they are, e.g. a malformed frame. */
  writeRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  send(msg: unknown): void {
    this.frame(1, Buffer.from(typeof msg === "string" ? msg : JSON.stringify(msg)));
  }

  async next(pred: (m: Msg) => boolean, timeoutMs = 5000): Promise<Msg | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find(pred);
      if (found) return found;
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async closed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === null && !this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closeCode !== null || this.ended;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
