import type { IncomingMessage } from "node:http";
import { loadConfig } from "../src/config";
import { CidrSet } from "../src/security/cidr";
import { clientAddress, limitKey } from "../src/security/client-address";
import { ByteBudget } from "../src/security/byte-budget";
import { originAllowed, parseOrigins } from "../src/security/origin";
import { txHash } from "../src/sync/tx-hash";
import { presentedToken } from "../src/auth";

const req = (peer: string, headers: Record<string, string> = {}) => ({ socket: { remoteAddress: peer }, headers, url: "/ws" }) as unknown as IncomingMessage;

describe("client address for the per-IP cap", () => {
  const trusted = new CidrSet(["127.0.0.0/8", "::1", "172.16.0.0/12"]);
  test.each([
    ["an untrusted peer's X-Forwarded-For is ignored", "203.0.113.9", "198.51.100.1", "203.0.113.9"],
    ["a trusted proxy's X-Forwarded-For is used", "172.18.0.5", "198.51.100.1", "198.51.100.1"],
    ["IPv4-mapped peers count as IPv4", "::ffff:172.18.0.5", "198.51.100.1", "198.51.100.1"],
    ["the rightmost untrusted hop wins; a client-written left part is not believed", "172.18.0.5", "6.6.6.6, 198.51.100.1", "198.51.100.1"],
    ["trusted hops on the right are skipped", "127.0.0.1", "198.51.100.1, 172.18.0.9", "198.51.100.1"],
    ["garbage falls back to the proxy", "172.18.0.5", "not-an-ip", "172.18.0.5"],
    ["no header: the proxy itself", "172.18.0.5", "", "172.18.0.5"],
  ])("%s", (_label, peer, xff, expected) => {
    expect(clientAddress(req(peer, xff ? { "x-forwarded-for": xff } : {}), trusted)).toBe(expected);
  });
  test("bad CIDRs are refused", () => {
    for (const bad of ["10.0.0.0/33", "example.com", "1.2.3.4/8/9", "::1/129"]) expect(() => new CidrSet([bad])).toThrow(/not an IP address or CIDR/);
  });
});

describe("the key an address is limited under", () => {
  test.each([
    ["IPv4: the address itself", "198.51.100.7", "198.51.100.7"],
    ["IPv6: its /64", "2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["compressed and upper-case forms of one /64 agree", "2001:DB8:1:2::9", "2001:db8:1:2::/64"],
    ["leading zeros and a :: inside the prefix", "2001:0db8:0000:0002::1", "2001:db8:0:2::/64"],
    ["a :: that reaches into the prefix", "2001:db8::1", "2001:db8:0:0::/64"],
    ["loopback", "::1", "0:0:0:0::/64"],
    ["a zone id is dropped", "fe80::1%eth0", "fe80:0:0:0::/64"],
    ["an IPv4 tail (NAT64)", "64:ff9b::198.51.100.7", "64:ff9b:0:0::/64"],
    ["not an address: unchanged", "unknown", "unknown"],
    ["an IPv4-mapped address in hex is that IPv4 address", "::ffff:c000:201", "192.0.2.1"],
    ["an IPv4-mapped address written out in full", "0:0:0:0:0:ffff:198.51.100.7", "198.51.100.7"],
  ])("%s", (_label, ip, key) => {
    expect(limitKey(ip)).toBe(key);
  });
});

describe("origin allowlist", () => {
  test("exact origins; missing Origin (non-browser) allowed", () => {
    const policy = parseOrigins("https://app.example.com, http://localhost:3000");
    expect(originAllowed(policy, "https://app.example.com")).toBe(true);
    expect(originAllowed(policy, "HTTPS://APP.EXAMPLE.COM")).toBe(true);
    expect(originAllowed(policy, "http://localhost:3000")).toBe(true);
    expect(originAllowed(policy, "https://evil.example.com")).toBe(false);
    expect(originAllowed(policy, "https://app.example.com.evil.com")).toBe(false);
    expect(originAllowed(policy, "null")).toBe(false);
    expect(originAllowed(policy, undefined)).toBe(true);
    expect(originAllowed(parseOrigins("*"), "https://anything")).toBe(true);
  });
  test("entries that are not origins are refused", () => {
    for (const bad of ["app.example.com", "https://app.example.com/path", "", "*,https://a.com"]) expect(() => parseOrigins(bad)).toThrow();
  });
});

describe("byte budget", () => {
  test("a minute's budget, then its rate", () => {
    let now = 0;
    const budget = new ByteBudget(60_000, () => now);
    expect(budget.take(60_000)).toBe(true);
    expect(budget.take(1)).toBe(false);
    now += 1000;
    expect(budget.take(1000)).toBe(true);
    expect(budget.take(1)).toBe(false);
  });
});

describe("tx hash", () => {
  test("map key order does not matter; content does", () => {
    expect(txHash([{ "block/uid": "a", "block/string": "x" }])).toBe(txHash([{ "block/string": "x", "block/uid": "a" }]));
    expect(txHash([{ "block/uid": "a" }])).not.toBe(txHash([{ "block/uid": "b" }]));
    expect(txHash([1])).not.toBe(txHash(["1"]));
  });
  test("deep nesting is invalid_tx, not a stack overflow", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(() => txHash([deep])).toThrow(expect.objectContaining({ code: "invalid_tx" }));
  });
});

describe("Authorization scheme is case-insensitive (RFC 9110 §11.1)", () => {
  test.each(["Bearer", "bearer", "BEARER", "bEaReR"])("%s", (scheme) => {
    expect(presentedToken({ headers: { authorization: `${scheme} abc` }, url: "/ws" } as unknown as IncomingMessage)).toBe("abc");
  });
  test("other schemes are not tokens", () => {
    expect(presentedToken({ headers: { authorization: "Basic abc" }, url: "/ws" } as unknown as IncomingMessage)).toBeNull();
  });
});

describe("security config keys", () => {
  const base = { SYNC_TOKEN: "0123456789abcdef0123" };
  test("defaults", () => {
    const s = loadConfig(base).security;
    expect(s).toMatchObject({ helloTimeoutMs: 10_000, maxPreHello: 256, maxConnectionsPerIp: 100, bytesPerMinute: 64 * 1024 ** 2, maxDbBytes: 0, minFreeBytes: 128 * 1024 ** 2, jwtAudience: null });
    expect(s.allowedOrigins).toEqual({ any: true });
    expect(s.trustedProxies.contains("172.17.0.2")).toBe(true);
    expect(s.trustedProxies.contains("8.8.8.8")).toBe(false);
  });
  test.each([
    ["SYNC_HELLO_TIMEOUT", "10"],
    ["SYNC_BYTES_PER_MINUTE", "1000"],
    ["SYNC_MAX_DB_BYTES", "lots"],
    ["SYNC_MIN_FREE_SPACE", "5"],
    ["SYNC_TRUSTED_PROXIES", "caddy"],
    ["SYNC_ALLOWED_ORIGINS", "app.example.com"],
    ["SYNC_MAX_CONNECTIONS_PER_IP", "0"],
  ])("%s=%s is refused, naming the key", (key, value) => {
    expect(() => loadConfig({ ...base, [key]: value })).toThrow(new RegExp(key));
  });
  test("a byte budget below one frame is refused", () => {
    expect(() => loadConfig({ ...base, SYNC_BYTES_PER_MINUTE: "512KiB", SYNC_MAX_FRAME_BYTES: "1MiB" })).toThrow(/SYNC_BYTES_PER_MINUTE/);
  });
});
