/**
 * Which Debian release the product's VMs boot, read from each provider's image choice
 * (AWS AMI name filter, DigitalOcean image slug, GCE image family), so the VM suite's
 * guest follows the product: a switch to Debian 13 switches the guest too. The three
 * must agree; the suite refuses to guess when they do not.
 *
 *   tsx test/vm/release.ts    prints the suite name (bookworm, trixie)
 */
import fs from "node:fs";
import path from "node:path";

const SUITES: Record<string, string> = { "12": "bookworm", "13": "trixie" };
const SOURCES: ReadonlyArray<readonly [string, RegExp]> = [
  ["components/aws/sync-server.ts", /debian-(\d+)-amd64-/],
  ["components/digitalocean/sync-server.ts", /"debian-(\d+)-x64"/],
  ["components/gcp/sync-server.ts", /debian-cloud\/debian-(\d+)/],
];

export function productRelease(repo = path.join(__dirname, "..", "..")): { version: string; suite: string } {
  const found = SOURCES.map(([file, pattern]) => {
    const match = pattern.exec(fs.readFileSync(path.join(repo, file), "utf8"));
    if (!match) throw new Error(`test/vm/release.ts: no Debian image choice found in ${file} (pattern ${pattern}); update SOURCES to the product's new form`);
    return [file, match[1]!] as const;
  });
  const versions = new Set(found.map(([, v]) => v));
  if (versions.size !== 1) throw new Error(`the clouds boot different Debian releases (${found.map(([f, v]) => `${f}: ${v}`).join(", ")}); the VM suite boots one`);
  const version = found[0]![1];
  const suite = SUITES[version];
  if (!suite) throw new Error(`Debian ${version} has no suite name in test/vm/release.ts`);
  return { version, suite };
}

if (require.main === module) process.stdout.write(`${productRelease().suite}\n`);
