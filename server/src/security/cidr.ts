import net from "node:net";

/** IPv4-mapped IPv6 ("::ffff:10.0.0.1") is the IPv4 address for every check here. */
export function normalizeIp(address: string): string {
  const trimmed = address.trim();
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(trimmed) ? trimmed.slice(7) : trimmed;
}

/** A set of CIDRs ("10.0.0.0/8", "::1/128", or a bare address) that answers contains(ip). */
export class CidrSet {
  private readonly list = new net.BlockList();
  constructor(readonly entries: readonly string[]) {
    for (const entry of entries) {
      const parsed = parseCidr(entry);
      if (!parsed) throw new Error(`"${entry}" is not an IP address or CIDR`);
      this.list.addSubnet(parsed.address, parsed.prefix, parsed.family);
    }
  }

  contains(address: string | undefined): boolean {
    if (!address) return false;
    const ip = normalizeIp(address);
    const family = net.isIP(ip);
    if (family === 0) return false;
    return this.list.check(ip, family === 4 ? "ipv4" : "ipv6");
  }
}

export function parseCidr(entry: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | null {
  const [address = "", prefixText, extra] = entry.trim().split("/");
  if (extra !== undefined) return null;
  const family = net.isIP(address);
  if (family === 0) return null;
  const max = family === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return null;
  return { address, prefix, family: family === 4 ? "ipv4" : "ipv6" };
}
