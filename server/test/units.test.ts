import { signJwt, verifyJwt } from "../src/auth";
import { ConfigError, loadConfig, parseDuration, parseSize } from "../src/config";
import { SCHEMA } from "../src/datalog/schema";
import { validateTx } from "../src/datalog/validate";
import { RateLimiter } from "../src/sync/rate-limiter";

describe("config", () => {
  const base = { SYNC_TOKEN: "0123456789abcdef0123" };
  test("defaults", () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({ port: 8080, limits: { maxFrameBytes: 1048576 }, backupIntervalMs: 6 * 3600_000, backupKeep: 7 });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.limits)).toBe(true);
  });
  test("no token and no explicit opt-out refuses to start", () => {
    expect(() => loadConfig({})).toThrow(/SYNC_TOKEN: is required/);
    expect(loadConfig({ SYNC_INSECURE_NO_AUTH: "1" }).token).toBeNull();
  });
  test.each([
    ["SYNC_PORT", "70000"],
    ["SYNC_MAX_FRAME_BYTES", "12B"],
    ["SYNC_BACKUP_INTERVAL", "sometimes"],
    // A bare number was read as seconds while the README said ms: every duration and size needs its unit.
    ["SYNC_QUERY_TIMEOUT", "2000"],
    ["SYNC_HEARTBEAT", "30"],
    ["SYNC_SHUTDOWN_TIMEOUT", "30"],
    ["SYNC_BACKUP_INTERVAL", "21600"],
    ["SYNC_MAX_FRAME_BYTES", "1048576"],
    ["SYNC_LOG_LEVEL", "loud"],
    ["SYNC_TOKEN", "short"],
    ["SYNC_JWT_SECRET", "short"],
  ])("bad %s is named in the error", (key, value) => {
    expect(() => loadConfig({ ...base, [key]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [key]: value })).toThrow(new RegExp(`${key}: `));
  });
  test("durations", () => {
    expect(parseDuration("90s")).toBe(90_000);
    expect(parseDuration("15m")).toBe(900_000);
    expect(parseDuration("6h")).toBe(21_600_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("off")).toBe(0);
    expect(parseDuration("5 minutes")).toBeNull();
    expect(parseDuration("2000")).toBeNull();
  });
  test("sizes", () => {
    expect(parseSize("4MiB")).toBe(4 * 1024 * 1024);
    expect(parseSize("512kib")).toBe(512 * 1024);
    expect(parseSize("1GB")).toBe(1e9);
    expect(parseSize("1048576")).toBeNull();
  });
  test("units are read as documented", () => {
    const c = loadConfig({ ...base, SYNC_QUERY_TIMEOUT: "2000ms", SYNC_HEARTBEAT: "30s", SYNC_MAX_FRAME_BYTES: "2MiB" });
    expect(c.limits.queryTimeoutMs).toBe(2000);
    expect(c.heartbeatMs).toBe(30_000);
    expect(c.limits.maxFrameBytes).toBe(2 * 1024 * 1024);
  });
});

describe("validateTx", () => {
  test("accepts maps, op vectors, tempids and lookup refs", () => {
    expect(
      validateTx(
        [
          { ":db/id": -1, "block/uid": "a", "block/children": [-2, ["block/uid", "b"]] },
          [":db/add", "t2", "block/string", "x"],
          [":db/retract", ["node/title", "Page"], "page/sidebar"],
          [":db/retractEntity", 42],
        ],
        SCHEMA,
        100,
        (e) => e === 42,
      ),
    ).toBe(6); // 3 assertions in the map, 1 :db/add, and each retraction item counts as one
  });
  test("a lookup ref must use an identity attribute", () => {
    expect(() => validateTx([[":db/add", ["block/string", "x"], "block/order", 1]], SCHEMA, 10, () => true)).toThrow(/not a unique identity/);
  });
  test("non-finite numbers are bad values", () => {
    expect(() => validateTx([{ "block/order": Number.NaN }], SCHEMA, 10, () => true)).toThrow(/takes a number/);
  });
});

describe("jwt", () => {
  const secret = "k".repeat(32);
  test("round trip and tampering", () => {
    const token = signJwt({ sub: "ann", exp: Date.now() / 1000 + 60 }, secret);
    expect(verifyJwt(token, secret)).toBe("ann");
    const [h, , s] = token.split(".");
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: "root" })).toString("base64url")}.${s}`;
    expect(() => verifyJwt(forged, secret)).toThrow(/signature/);
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${token.split(".")[1]}.`;
    expect(() => verifyJwt(none, secret)).toThrow(/HS256/);
  });
  test("exp and nbf", () => {
    expect(() => verifyJwt(signJwt({ sub: "a", exp: 1000 }, secret), secret, 2000)).toThrow(/expired/);
    expect(() => verifyJwt(signJwt({ sub: "a", nbf: 5000, exp: 9000 }, secret), secret, 2000)).toThrow(/not valid yet/);
  });
  test("exp is required and numeric: a string exp never expired, a missing one never would", () => {
    expect(() => verifyJwt(signJwt({ sub: "a", exp: "1000" }, secret), secret, 2000)).toThrow(/numeric exp/);
    expect(() => verifyJwt(signJwt({ sub: "a" }, secret), secret, 2000)).toThrow(/numeric exp/);
    expect(() => verifyJwt(signJwt({ sub: "a", exp: 9000, nbf: "3000" }, secret), secret, 2000)).toThrow(/nbf must be numeric/);
    expect(verifyJwt(signJwt({ sub: "a", exp: 9000 }, secret), secret, 2000)).toBe("a");
  });
  test("audience and issuer, when configured", () => {
    const policy = { secret, audience: "sync.example.com", issuer: "https://auth.example.com" };
    const ok = { sub: "a", exp: 9000, aud: "sync.example.com", iss: "https://auth.example.com" };
    expect(verifyJwt(signJwt(ok, secret), policy, 2000)).toBe("a");
    expect(verifyJwt(signJwt({ ...ok, aud: ["other", "sync.example.com"] }, secret), policy, 2000)).toBe("a");
    expect(() => verifyJwt(signJwt({ ...ok, aud: "other.example.com" }, secret), policy, 2000)).toThrow(/aud/);
    expect(() => verifyJwt(signJwt({ sub: "a", exp: 9000, iss: "https://auth.example.com" }, secret), policy, 2000)).toThrow(/aud/);
    expect(() => verifyJwt(signJwt({ ...ok, iss: "https://evil.example.com" }, secret), policy, 2000)).toThrow(/iss/);
    // Without configuration, aud and iss are not checked.
    expect(verifyJwt(signJwt({ ...ok, aud: "anything" }, secret), secret, 2000)).toBe("a");
  });
});

describe("rate limiter", () => {
  test("refills at the configured rate", () => {
    let now = 0;
    const limiter = new RateLimiter(10, () => now);
    for (let i = 0; i < 10; i++) expect(limiter.take()).toBe(true);
    expect(limiter.take()).toBe(false);
    expect(limiter.strikes).toBe(1);
    now += 100;
    expect(limiter.take()).toBe(true);
    expect(limiter.strikes).toBe(0);
  });
});
