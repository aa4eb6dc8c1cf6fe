import crypto from "node:crypto";
import http from "node:http";
import WebSocket from "ws";
import { PROTOCOL_VERSION } from "../../protocol/src";
import { type Msg, TOKEN } from "./helpers";

export interface UpgradeAttempt {
  readonly headers?: Record<string, string>;
  /** Source address on loopback, e.g. 127.0.0.2, to act as another client. */
  readonly localAddress?: string;
  readonly path?: string;
}

/** Sends a raw WebSocket upgrade request and reports the HTTP status (101 when it upgraded). */
export function upgradeStatus(port: number, attempt: UpgradeAttempt = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: "127.0.0.1",
      port,
      path: attempt.path ?? "/ws",
      localAddress: attempt.localAddress,
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": crypto.randomBytes(16).toString("base64"),
        ...attempt.headers,
      },
    });
    req.on("upgrade", (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: "" });
    });
    req.on("response", (res) => {
      let body = "";
      res.on("data", (c: Buffer) => (body += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

export const bearer = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

/** A raw socket with the token and any options; records frames and the close. */
export class RawSocket {
  readonly ws: WebSocket;
  readonly messages: Msg[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, opts: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, { headers: bearer(), ...opts });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
      this.ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    this.opened.catch(() => undefined);
    this.closed = new Promise((resolve) => this.ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
    this.ws.on("error", () => undefined);
    this.ws.on("message", (data) => {
      try {
        this.messages.push(JSON.parse(data.toString()) as Msg);
      } catch {
        this.messages.push({ raw: data.toString() });
      }
    });
  }

  hello(name = "raw", extra: Msg = {}): void {
    this.ws.send(JSON.stringify({ type: "hello", protocol: PROTOCOL_VERSION, name, ...extra }));
  }
}

/** Resident set size of a process, in MiB, from /proc. */
export function rssMiB(pid: number): number {
  const status = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8") as string;
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
  return kb / 1024;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
