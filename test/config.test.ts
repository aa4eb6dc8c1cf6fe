import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { parseConfig, projectConfig, StackConfigError, TEXT_KEYS } from "../components/config";

describe("stack config", () => {
  test("defaults", () => {
    const c = parseConfig({ provider: "aws" });
    expect(c).toMatchObject({ volumeSizeGb: 20, snapshotSchedule: "daily", snapshotRetain: 7, backupInterval: "6h", backupKeep: 7, sshCidrs: [] });
    expect(c.limits).toEqual({ maxFrameBytes: 1048576, maxTxDatoms: 10000, maxConnections: 1000, rateLimit: 200 });
  });

  test("structured values arrive as JSON strings, as Pulumi stores them", () => {
    const c = parseConfig({ provider: "gcp", volumeSizeGb: "50", sshCidrs: '["10.0.0.0/8"]', limits: '{"maxConnections":50}' });
    expect(c.volumeSizeGb).toBe(50);
    expect(c.sshCidrs).toEqual(["10.0.0.0/8"]);
    expect(c.limits.maxConnections).toBe(50);
    expect(c.limits.rateLimit).toBe(200);
  });

  test.each([
    [{ provider: "azure" }, /athens-sync:provider: must be one of aws, digitalocean, gcp, docker/],
    [{ provider: "aws", volumeSizeGb: "0" }, /athens-sync:volumeSizeGb: must be at least 1/],
    [{ provider: "aws", volumeSizeGb: "big" }, /athens-sync:volumeSizeGb: /],
    [{ provider: "aws", domain: "https://sync.example.com" }, /athens-sync:domain: must be a fully qualified hostname/],
    [{ provider: "aws", dnsZone: "example.com" }, /athens-sync:domain: is required when dnsZone is set/],
    [{ provider: "aws", snapshotSchedule: "weekly" }, /athens-sync:snapshotSchedule: must be "daily" or "hourly"/],
    [{ provider: "aws", snapshotRetain: "0" }, /athens-sync:snapshotRetain: must keep at least 1/],
    [{ provider: "aws", acmeEmail: "ops" }, /athens-sync:acmeEmail: must be an email address/],
    [{ provider: "aws", sshCidrs: '["0.0.0.0/0"]' }, /athens-sync:sshCidrs\.0: is wider than \/8, which opens SSH to a large part of the internet \(0\.0\.0\.0\/0 to all of it\)/],
    [{ provider: "aws", sshCidrs: '["300.1.1.1/32"]' }, /athens-sync:sshCidrs.0: must be an IPv4 CIDR/],
    [{ provider: "aws", backupInterval: "often" }, /athens-sync:backupInterval: must be a duration/],
    [{ provider: "aws", limits: '{"maxConections":5}' }, /athens-sync:limits.maxConections: unknown key/],
    [{ provider: "aws", volumeSize: "20" }, /athens-sync:volumeSize: unknown key/],
    [{ provider: "digitalocean" }, /athens-sync:doSnapshotToken: is required on DigitalOcean/],
    [{ provider: "aws", tls: "self-signed" }, /athens-sync:tls: must be "acme"/],
    [{ provider: "docker", httpPort: "8443", httpsPort: "8443" }, /athens-sync:httpsPort: must differ from httpPort \(both are 8443\)/],
    [{ provider: "docker", httpPort: "443" }, /athens-sync:httpsPort: must differ from httpPort \(both are 443\)/],
    [{ provider: "aws", httpsPort: "8443" }, /athens-sync:httpsPort: is read only by the local docker provider/],
    [{ provider: "gcp", httpPort: "8080" }, /athens-sync:httpPort: is read only by the local docker provider/],
  ])("%j fails with its own message", (raw, message) => {
    expect(() => parseConfig(raw as Record<string, string>)).toThrow(StackConfigError);
    expect(() => parseConfig(raw as Record<string, string>)).toThrow(message);
  });

  test("a text key keeps Pulumi's string even when it looks like JSON", () => {
    // 40 digits: read as JSON it was a number past 2^53 (digits lost), then refused as "expected string".
    const secret = "1234567890".repeat(4);
    const c = parseConfig({ provider: "docker", jwtSecret: secret, instanceSize: "2", domain: "sync.example.com" });
    expect(c.jwtSecret).toBe(secret);
    expect(c.instanceSize).toBe("2");
    expect(parseConfig({ provider: "aws", zone: "1" }).zone).toBe("1");
    expect(parseConfig({ provider: "digitalocean", doSnapshotToken: "1".repeat(40) }).doSnapshotToken).toBe("1".repeat(40));
    // A numeric snapshot id reaches the per-cloud check as text, which explains what it is.
    expect(() => parseConfig({ provider: "digitalocean", doSnapshotToken: "dop_v1_" + "0".repeat(64), restoreFromSnapshot: "123456789" })).toThrow(/restoreFromSnapshot: is a numeric id, which DigitalOcean gives Droplet snapshots/);
  });

  test("text keys are exactly the schema's string keys; numbers, lists and objects are still JSON", () => {
    expect([...TEXT_KEYS].sort()).toEqual(
      ["acmeEmail", "backupInterval", "caddyImage", "containerRegistry", "dnsZone", "doSnapshotToken", "domain", "instanceSize", "jwtSecret", "network", "nodeImage", "region", "restoreFromSnapshot", "zone"].sort(),
    );
    expect(parseConfig({ provider: "docker", httpPort: "8080", httpsPort: "8443" })).toMatchObject({ httpPort: 8080, httpsPort: 8443 });
  });

  test("all bad keys are reported at once", () => {
    expect(() => parseConfig({ provider: "aws", volumeSizeGb: "0", acmeEmail: "x" })).toThrow(/volumeSizeGb[\s\S]*acmeEmail|acmeEmail[\s\S]*volumeSizeGb/);
  });

  test("only the project's namespace is read", () => {
    expect(projectConfig({ "athens-sync:provider": "aws", "aws:region": "us-east-1" })).toEqual({ provider: "aws" });
  });

  test.each(fs.readdirSync(path.join(__dirname, "..", "stacks")))("%s parses", (file) => {
    const doc = parse(fs.readFileSync(path.join(__dirname, "..", "stacks", file), "utf8"));
    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries(doc.config as Record<string, unknown>)) raw[k] = typeof v === "string" ? v : JSON.stringify(v);
    const values = projectConfig(raw);
    if (values.provider === "digitalocean" && !values.doSnapshotToken) values.doSnapshotToken = "dop_v1_" + "0".repeat(64);
    expect(() => parseConfig(values)).not.toThrow();
  });
});
