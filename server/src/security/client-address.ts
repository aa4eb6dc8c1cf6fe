import type { IncomingMessage } from "node:http";
import { type CidrSet, normalizeIp } from "./cidr";
import net from "node:net";

/**
 * The address a connection is counted under for SYNC_MAX_CONNECTIONS_PER_IP.
 *
 * X-Forwarded-For is believed only when the TCP peer is a trusted proxy (Caddy, on the
 * compose network): anyone else could write any address into it and dodge the cap. The
 * header is read right to left, skipping trusted proxies, so the first address that is
 * not ours is the one our own proxy saw; entries further left were written by the client
 * and are not trusted.
 */
export function clientAddress(req: IncomingMessage, trustedProxies: CidrSet): string {
  const peer = normalizeIp(req.socket.remoteAddress ?? "unknown");
  if (!trustedProxies.contains(peer)) return peer;
  const header = req.headers["x-forwarded-for"];
  const chain = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((s) => normalizeIp(s))
    .filter((s) => s.length > 0);
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = chain[i]!;
    if (net.isIP(hop) === 0) return peer; // garbage: fall back to the proxy's own address
    if (!trustedProxies.contains(hop)) return hop;
  }
  return chain[0] ?? peer;
}
