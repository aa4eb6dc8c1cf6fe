import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { presentedToken, tokenMatches } from "../auth";
import type { CidrSet } from "./cidr";
import { clientAddress, limitKey } from "./client-address";
import type { PerIpConnections } from "./ip-connections";
import { type OriginPolicy, originAllowed } from "./origin";

export interface GateOptions {
  readonly token: string | null;
  readonly origins: OriginPolicy;
  readonly trustedProxies: CidrSet;
  readonly perIp: PerIpConnections;
}

/** `key`: what the per-address cap counted the socket under (limitKey); release that one. */
export type Verdict = { readonly ok: true; readonly ip: string; readonly key: string } | { readonly ok: false; readonly status: 401 | 403 | 429; readonly reason: string; readonly ip: string };

/**
 * Everything decided before a WebSocket exists: a refused peer costs one HTTP response,
 * never a socket, a Connection or a slot. Order matters: the Origin check first (a hijack
 * attempt learns nothing about the token), then the token, then the per-address cap, which
 * counts the socket only when it is let through (release it when the socket closes).
 */
export function checkUpgrade(req: IncomingMessage, gate: GateOptions): Verdict {
  const ip = clientAddress(req, gate.trustedProxies);
  const origin = req.headers.origin;
  if (!originAllowed(gate.origins, origin)) return { ok: false, status: 403, reason: "origin not allowed (SYNC_ALLOWED_ORIGINS)", ip };
  if (!tokenMatches(gate.token, presentedToken(req))) return { ok: false, status: 401, reason: "missing or wrong access token", ip };
  const key = limitKey(ip);
  if (!gate.perIp.tryAdd(key)) return { ok: false, status: 429, reason: "too many connections from this address (SYNC_MAX_CONNECTIONS_PER_IP; IPv6 counts per /64)", ip };
  return { ok: true, ip, key };
}

const STATUS_TEXT: Record<number, string> = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests", 503: "Service Unavailable" };

/**
 * Answers an upgrade request with a plain HTTP error and closes the socket. The peer may
 * reset the connection before the answer is written: an upgraded socket has no 'error'
 * listener of Node's, and that error, unheard, ended the process.
 */
export function refuseUpgrade(socket: Duplex, status: number, reason: string): void {
  if (socket.listenerCount("error") === 0) socket.on("error", () => socket.destroy());
  const body = `${reason}\n`;
  const head = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}`,
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    "Cache-Control: no-store",
    "Connection: close",
    ...(status === 401 ? ['WWW-Authenticate: Bearer realm="sync"'] : []),
  ];
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`);
  socket.once("finish", () => socket.destroy());
  setTimeout(() => socket.destroy(), 1000).unref();
}
