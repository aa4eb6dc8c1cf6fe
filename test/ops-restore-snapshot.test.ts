/**
 * `restoreFromSnapshot` (ops/src/restore-snapshot.ts) with a fake `pulumi` first on PATH
 * (the real CLI cannot be installed here). The fake records every argv and keeps the
 * stack's config in a file, as `pulumi config` would; each test asserts the exact
 * sequence of pulumi commands and the config left behind.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import { CONFIG_KEY, EXIT, restoreFromSnapshot, restoredVolumeUrn } from "../ops/src/restore-snapshot";

const FAKE_PULUMI = `#!/usr/bin/env node
// A stand-in for the Pulumi CLI: records argv, keeps config in config.json.
const fs = require("fs");
const path = require("path");
const dir = process.env.FAKE_PULUMI_DIR;
const argv = process.argv.slice(2);
fs.appendFileSync(path.join(dir, "argv.jsonl"), JSON.stringify(argv) + "\\n");
const args = argv.filter((a, i) => a !== "--stack" && argv[i - 1] !== "--stack");
const file = path.join(dir, "config.json");
const config = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : {};
const save = () => fs.writeFileSync(file, JSON.stringify(config));
const fail = process.env.FAKE_PULUMI_FAIL;
switch (args.slice(0, 2).join(" ")) {
  case "stack output": process.stdout.write(fs.readFileSync(path.join(dir, "outputs.json"))); break;
  case "stack export": process.stdout.write(fs.readFileSync(path.join(dir, "export.json"))); break;
  case "config get":
    if (!(args[2] in config)) { process.stderr.write("error: configuration key '" + args[2] + "' not found for stack 'prod'\\n"); process.exit(255); }
    process.stdout.write(config[args[2]] + "\\n"); break;
  case "config set": config[args[2]] = args[3]; save(); break;
  case "config rm": delete config[args[2]]; save(); break;
  case "state unprotect": break;
  default:
    if (args[0] === "preview") { process.stdout.write("Previewing update (prod):\\n  + aws:ebs/volume:Volume sync-data-restored create\\n"); if (fail === "preview") { process.stderr.write("error: preview failed\\n"); process.exit(255); } break; }
    if (args[0] === "up") { process.stdout.write("Updating (prod):\\nResources: 1 created, 2 replaced\\n"); if (fail === "up") process.exit(255); break; }
    process.stderr.write("fake pulumi: unknown command " + argv.join(" ") + "\\n"); process.exit(2);
}
`;

const SNAP = "snap-0fedcba9876543210";
const PREVIOUS = "snap-0aaaabbbbccccdddd";
const PREVIOUS_URN = `urn:pulumi:prod::athens-sync::athens-sync:aws:SyncServer$aws:ebs/volume:Volume::sync-data-${PREVIOUS}`;

interface Fake {
  dir: string;
  env: NodeJS.ProcessEnv;
  argv(): string[][];
  config(): Record<string, string>;
}

function fake(opts: { cloud?: string; config?: Record<string, string>; fail?: string } = {}): Fake {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-pulumi-"));
  fs.mkdirSync(path.join(dir, "bin"));
  fs.writeFileSync(path.join(dir, "bin", "pulumi"), FAKE_PULUMI, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify({ url: "wss://sync.example.com/ws", cloud: opts.cloud ?? "aws", volumeId: "vol-0123456789abcdef0", adminToken: "[secret]" }));
  fs.writeFileSync(
    path.join(dir, "export.json"),
    JSON.stringify({
      version: 3,
      deployment: {
        resources: [
          { urn: "urn:pulumi:prod::athens-sync::athens-sync:aws:SyncServer$aws:ebs/volume:Volume::sync-data", type: "aws:ebs/volume:Volume", protect: true },
          { urn: PREVIOUS_URN, type: "aws:ebs/volume:Volume", protect: true },
          { urn: `urn:pulumi:prod::athens-sync::athens-sync:aws:SyncServer$aws:ec2/instance:Instance::sync-vm`, type: "aws:ec2/instance:Instance" },
        ],
      },
    }),
  );
  if (opts.config) fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(opts.config));
  const env = { ...process.env, PATH: `${path.join(dir, "bin")}:${process.env.PATH}`, FAKE_PULUMI_DIR: dir, ...(opts.fail ? { FAKE_PULUMI_FAIL: opts.fail } : {}) };
  return {
    dir,
    env,
    argv: () => (fs.existsSync(path.join(dir, "argv.jsonl")) ? fs.readFileSync(path.join(dir, "argv.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as string[]) : []),
    config: () => (fs.existsSync(path.join(dir, "config.json")) ? (JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8")) as Record<string, string>) : {}),
  };
}

/** A terminal that answers `answer` to the question. */
function terminal(answer: string | null) {
  const input = Object.assign(new PassThrough(), { isTTY: true });
  if (answer === null) input.end();
  else input.write(`${answer}\n`);
  return input;
}

function sink() {
  let text = "";
  const output = new PassThrough();
  output.on("data", (c) => (text += c));
  return { output, text: () => text };
}

const S = ["--stack", "prod"];

test("--yes: config set, preview --diff, then up --yes --skip-preview, in that order, on the given stack", async () => {
  const f = fake();
  const log = sink();
  const code = await restoreFromSnapshot({ snapshotId: SNAP, stack: "prod", yes: true, cwd: f.dir, env: f.env, output: log.output, input: terminal(null) });
  expect(code).toBe(EXIT.ok);
  expect(f.argv()).toEqual([
    ["stack", "output", "--json", ...S],
    ["config", "get", CONFIG_KEY, ...S],
    ["config", "set", CONFIG_KEY, SNAP, ...S],
    ["preview", "--diff", ...S],
    ["up", "--yes", "--skip-preview", ...S],
  ]);
  expect(f.config()).toEqual({ [CONFIG_KEY]: SNAP });
  // The operator sees the preview's diff.
  expect(log.text()).toContain("+ aws:ebs/volume:Volume sync-data-restored create");
});

test('a "no" at the terminal runs no up and removes the key it set (no restore was in effect)', async () => {
  const f = fake();
  const log = sink();
  const code = await restoreFromSnapshot({ snapshotId: SNAP, yes: false, cwd: f.dir, env: f.env, output: log.output, input: terminal("no") });
  expect(code).toBe(EXIT.declined);
  expect(f.argv()).toEqual([
    ["stack", "output", "--json"],
    ["config", "get", CONFIG_KEY],
    ["config", "set", CONFIG_KEY, SNAP],
    ["preview", "--diff"],
    ["config", "rm", CONFIG_KEY],
  ]);
  expect(f.config()).toEqual({});
  expect(log.text()).toMatch(/Type "yes" to run pulumi up/);
});

test('a "no" puts the previous restore back, and says the volume it unprotected is protected again by the next up', async () => {
  const f = fake({ config: { [CONFIG_KEY]: PREVIOUS, "athens-sync:provider": "aws" } });
  const log = sink();
  const code = await restoreFromSnapshot({ snapshotId: SNAP, stack: "prod", yes: false, cwd: f.dir, env: f.env, output: log.output, input: terminal("n") });
  expect(code).toBe(EXIT.declined);
  expect(f.argv()).toEqual([
    ["stack", "output", "--json", ...S],
    ["config", "get", CONFIG_KEY, ...S],
    ["stack", "export", ...S],
    ["config", "set", CONFIG_KEY, SNAP, ...S],
    ["state", "unprotect", "--yes", PREVIOUS_URN, ...S],
    ["preview", "--diff", ...S],
    ["config", "set", CONFIG_KEY, PREVIOUS, ...S],
  ]);
  expect(f.config()).toEqual({ [CONFIG_KEY]: PREVIOUS, "athens-sync:provider": "aws" });
  expect(log.text()).toMatch(/still retained: never deleted/);
});

test('"yes" typed at the terminal runs up; end of input counts as no', async () => {
  const yes = fake();
  expect(await restoreFromSnapshot({ snapshotId: SNAP, yes: false, cwd: yes.dir, env: yes.env, output: sink().output, input: terminal("yes") })).toBe(EXIT.ok);
  expect(yes.argv().at(-1)).toEqual(["up", "--yes", "--skip-preview"]);
  const eof = fake();
  expect(await restoreFromSnapshot({ snapshotId: SNAP, yes: false, cwd: eof.dir, env: eof.env, output: sink().output, input: terminal(null) })).toBe(EXIT.declined);
  expect(eof.argv().map((a) => a[0])).not.toContain("up");
});

test.each([
  ["digitalocean", "123456789", /is a numeric id, which DigitalOcean gives Droplet snapshots/],
  ["aws", "vol-0123456789abcdef0", /must be an EBS snapshot id/],
  ["gcp", "Nightly_Snapshot", /must be a GCP snapshot name/],
  ["docker", SNAP, /not supported by the local docker provider/],
])("%s: a malformed id %s is refused before the config is touched", async (cloud, id, message) => {
  const f = fake({ cloud });
  const log = sink();
  expect(await restoreFromSnapshot({ snapshotId: id, yes: true, cwd: f.dir, env: f.env, output: log.output })).toBe(EXIT.usage);
  expect(f.argv()).toEqual([["stack", "output", "--json"]]);
  expect(log.text()).toContain(`restore: ${CONFIG_KEY}: "${id}"`);
  expect(log.text()).toMatch(message);
});

test("no terminal and no --yes: refused before any pulumi command", async () => {
  const f = fake();
  const log = sink();
  const input = new PassThrough();
  expect(await restoreFromSnapshot({ snapshotId: SNAP, yes: false, cwd: f.dir, env: f.env, output: log.output, input })).toBe(EXIT.usage);
  expect(f.argv()).toEqual([]);
  expect(log.text()).toMatch(/pass --yes/);
});

test("a failed preview runs no up and puts the config back", async () => {
  const f = fake({ fail: "preview" });
  const log = sink();
  expect(await restoreFromSnapshot({ snapshotId: SNAP, yes: true, cwd: f.dir, env: f.env, output: log.output })).toBe(EXIT.pulumiFailed);
  expect(f.argv().map((a) => a.slice(0, 2).join(" "))).toEqual(["stack output", "config get", "config set", "preview --diff", "config rm"]);
  expect(f.config()).toEqual({});
  expect(log.text()).toMatch(/pulumi preview --diff failed \(exit 255\): error: preview failed/);
});

test("a failed up keeps the new value and says how to retry or go back", async () => {
  const f = fake({ fail: "up" });
  const log = sink();
  expect(await restoreFromSnapshot({ snapshotId: SNAP, yes: true, cwd: f.dir, env: f.env, output: log.output })).toBe(EXIT.pulumiFailed);
  expect(f.config()).toEqual({ [CONFIG_KEY]: SNAP });
  expect(log.text()).toContain(`pulumi config rm ${CONFIG_KEY}`);
});

test("the same snapshot again is a no-op; a missing Pulumi CLI is a clear failure", async () => {
  const same = fake({ config: { [CONFIG_KEY]: SNAP } });
  expect(await restoreFromSnapshot({ snapshotId: SNAP, yes: true, cwd: same.dir, env: same.env, output: sink().output })).toBe(EXIT.ok);
  expect(same.argv().map((a) => a[0])).toEqual(["stack", "config"]);
  const log = sink();
  const none = fake();
  expect(await restoreFromSnapshot({ snapshotId: SNAP, yes: true, cwd: none.dir, env: none.env, output: log.output, pulumi: path.join(none.dir, "no-such-pulumi") })).toBe(EXIT.pulumiFailed);
  expect(log.text()).toMatch(/is the Pulumi CLI installed\?/);
});

test("the previous restore's volume is found by type and name, never another resource", () => {
  const exported = fs.readFileSync(path.join(fake().dir, "export.json"), "utf8");
  expect(restoredVolumeUrn(exported, PREVIOUS)).toBe(PREVIOUS_URN);
  expect(restoredVolumeUrn(exported, "snap-0123456789abcdef1")).toBeUndefined();
});
