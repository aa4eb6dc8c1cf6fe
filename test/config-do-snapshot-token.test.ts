/**
 * The DigitalOcean snapshot token goes into /etc/sync/do-snapshot.env, which the snapshot
 * job (run as root by a systemd timer) sources with `. /etc/sync/do-snapshot.env`. It was
 * written unquoted and the config took any string of 20+ characters, so shell syntax in
 * the token ran as root on the Droplet. Now the config takes a token's characters only,
 * and the renderer quotes every value besides.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { parseConfig } from "../components/config";
import { renderSnapshotEnv, SNAPSHOT_ENV } from "../components/digitalocean/snapshot-job";
import { byType, plain, runProgram } from "./mocks";

const REAL_TOKEN = "dop_v1_" + "f".repeat(64);

function snapshotEnvOf(userData: string): string {
  const doc = parse(userData.replace(/^#cloud-config\n/, "")) as { write_files: Array<{ path: string; content: string }> };
  const file = doc.write_files.find((f) => f.path === SNAPSHOT_ENV);
  if (!file) throw new Error(`no ${SNAPSHOT_ENV} in the user data`);
  return file.content;
}

/** Sources the env file the way the job does (`. file`), in a throwaway dir, and reports DO_TOKEN. */
function sourceLikeTheJob(envText: string, dir: string): string {
  const file = path.join(dir, "do-snapshot.env");
  fs.writeFileSync(file, envText);
  return execFileSync("sh", ["-c", 'set -eu; . "$1"; printf %s "$DO_TOKEN"', "sh", file], { cwd: dir, encoding: "utf8" });
}

const HOSTILE: Array<[string, (marker: string) => string]> = [
  ["command substitution", (marker) => `${REAL_TOKEN}$(touch ${marker})`],
  ["backticks", (marker) => `${REAL_TOKEN}\`touch ${marker}\``],
  ["a second line", (marker) => `${REAL_TOKEN}\ntouch ${marker}`],
  ["a space then a command", (marker) => `${REAL_TOKEN} touch ${marker}`],
  ["a single quote", (marker) => `${REAL_TOKEN}'; touch ${marker}; '`],
];

describe.each(HOSTILE)("doSnapshotToken with %s (found by a hostile review: it ran as root)", (_label, tokenFor) => {
  test("is refused by the config, naming the key", () => {
    expect(() => parseConfig({ provider: "digitalocean", doSnapshotToken: tokenFor("/nonexistent/marker") })).toThrow(/athens-sync:doSnapshotToken: .*letters, digits and _/);
  });

  test("and the renderer alone never lets it become shell: sourcing the env file runs nothing and yields the token as given (or refuses a second line)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-env-"));
    try {
      const marker = path.join(dir, "PWNED");
      const token = tokenFor(marker);
      if (/\n/.test(token)) {
        expect(() => renderSnapshotEnv(token, "vol-1", 7)).toThrow(/DO_TOKEN must be a single line/);
        return;
      }
      const sourced = sourceLikeTheJob(renderSnapshotEnv(token, "vol-1", 7), dir);
      expect({ injectedCommandRan: fs.existsSync(marker), DO_TOKEN: sourced }).toEqual({ injectedCommandRan: false, DO_TOKEN: token });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

test("a real token reaches the snapshot job as it is, through the whole DigitalOcean program", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "snapshot-env-"));
  try {
    const run = await runProgram({ provider: "digitalocean", doSnapshotToken: REAL_TOKEN }, "prod");
    const droplet = byType(run.resources, "digitalocean:index/droplet:Droplet")[0]!;
    expect(sourceLikeTheJob(snapshotEnvOf(plain<string>(droplet.inputs.userData)), dir)).toBe(REAL_TOKEN);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
