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

/**
 * The key a client address is limited under (connections per address, admin requests
 * per address): IPv4 as it is, IPv6 by its /64. One home, VM or phone is handed a whole
 * /64 and may use any of its 2^64 addresses, so a cap per IPv6 address caps nothing.
 */
export function limitKey(address: string): string {
  const ip = address.split("%")[0]!;
  if (!net.isIPv6(ip)) return address;
  const groups = ipv6Hextets(ip);
  // An IPv4 address in IPv6 form (::ffff:c000:201, 0:0:0:0:0:ffff:1.2.3.4) is that IPv4 client.
  if (groups.slice(0, 5).every((g) => g === "0") && groups[5] === "ffff") {
    const [hi, lo] = [parseInt(groups[6]!, 16), parseInt(groups[7]!, 16)];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return `${groups.slice(0, 4).join(":")}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, as lower-case hex without leading zeros. */
function ipv6Hextets(ip: string): string[] {
  const [head = "", tail] = ip.split("::");
  const groups = (part: string) =>
    part === ""
      ? []
      : part.split(":").flatMap((g) => {
          if (!g.includes(".")) return [g];
          // An IPv4 tail (::ffff:a.b.c.d, 64:ff9b::a.b.c.d) is the last two groups.
          const [a, b, c, d] = g.split(".").map(Number) as [number, number, number, number];
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  return all.map((g) => parseInt(g, 16).toString(16));
}
