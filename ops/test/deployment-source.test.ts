/**
 * Where the deployment comes from: the Pulumi CLI (a fake `pulumi` on PATH that prints
 * recorded `stack output --json --show-secrets` JSON and records its argv), --outputs FILE,
 * or --url. The Pulumi CLI's rules are from pulumi/pulumi pkg/cmd/pulumi/stack/stack_output.go:
 * flags --json, --show-secrets, --stack; without --show-secrets a secret prints as "[secret]".
 */
import fs from "node:fs";
import path from "node:path";
import { Exit } from "../src/exit-codes";
import { ADMIN, cli, fakeTools, startServer, tmpDir } from "./helpers";

let srv: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv.stop();
});

/** What `pulumi stack output --json --show-secrets` prints for a local docker stack (index.ts exports). */
const recorded = () => ({
  provider: "docker",
  url: srv.ws,
  hostname: "localhost",
  ip: "127.0.0.1",
  volumeId: "local-sync-data",
  image: "athens-sync-server@sha256:" + "a".repeat(64),
  token: "test-token-0123456789abcdef",
  adminToken: ADMIN,
});

test("the current stack: spawns `pulumi stack output --json --show-secrets` in --cwd, with --stack when given", async () => {
  const tools = fakeTools({ pulumi: { stdout: JSON.stringify(recorded(), null, 4) } });
  const project = tmpDir("ops-project-");
  const env = { PATH: `${tools.dir}:${process.env.PATH}` };
  const r = await cli(["status", "--json"], { env, cwd: project });
  expect([r.code, r.stderr]).toEqual([Exit.OK, ""]);
  expect(r.json().admin).toMatchObject({ ok: true, state: "RUNNING" });
  const r2 = await cli(["backup", "now", "--stack", "prod", "--cwd", project, "--json"], { env });
  expect(r2.code).toBe(Exit.OK);
  expect(tools.calls("pulumi")).toEqual([
    ["stack", "output", "--json", "--show-secrets"],
    ["stack", "output", "--json", "--show-secrets", "--stack", "prod"],
  ]);
  expect(tools.cwds("pulumi")).toEqual([fs.realpathSync(project), fs.realpathSync(project)]);
});

test("outputs saved without --show-secrets ([secret]) are refused with the command that fixes it", async () => {
  const tools = fakeTools({ pulumi: { stdout: JSON.stringify({ ...recorded(), adminToken: "[secret]" }) } });
  const r = await cli(["status"], { env: { PATH: `${tools.dir}:${process.env.PATH}` } });
  expect(r.code).toBe(Exit.CONFIG);
  expect(r.stderr).toMatch(/"adminToken" is "\[secret\]".*--show-secrets/);
});

test("pulumi failing (no stack selected) is exit 3 with its message; pulumi missing is 127", async () => {
  const failing = fakeTools({ pulumi: { stdout: "", code: 255 } });
  fs.writeFileSync(path.join(failing.dir, "pulumi.out"), "");
  const r = await cli(["status"], { env: { PATH: `${failing.dir}:${process.env.PATH}` } });
  expect(r.code).toBe(Exit.CONFIG);
  expect(r.stderr).toMatch(/pulumi stack output failed \(exit 255\)/);
  const empty = tmpDir("ops-empty-path-");
  const missing = await cli(["status", "--json"], { env: { PATH: empty } });
  expect(missing.code).toBe(Exit.TOOL_MISSING);
  expect(missing.json()).toMatchObject({ ok: false, error: "pulumi_missing" });
});

test("--outputs FILE: a saved copy works the same; a bad file is exit 3", async () => {
  const dir = tmpDir();
  const file = path.join(dir, "outputs.json");
  fs.writeFileSync(file, JSON.stringify(recorded()));
  const r = await cli(["status", "--outputs", file, "--json"], { env: { PATH: tmpDir() } });
  expect(r.code).toBe(Exit.OK);
  fs.writeFileSync(file, "{not json");
  expect((await cli(["status", "--outputs", file])).code).toBe(Exit.CONFIG);
  fs.writeFileSync(file, JSON.stringify({ url: "ftp://nope" }));
  const bad = await cli(["status", "--outputs", file]);
  expect([bad.code, bad.stderr]).toEqual([Exit.CONFIG, expect.stringMatching(/output "url" must be a ws/)]);
  expect((await cli(["status", "--outputs", path.join(dir, "missing.json")])).code).toBe(Exit.CONFIG);
});

test("SYNC_ADMIN_TOKEN in the environment stands in for the flag (keeps it out of ps)", async () => {
  const r = await cli(["status", "--url", srv.ws, "--json"], { env: { SYNC_ADMIN_TOKEN: ADMIN } });
  expect(r.json().admin).toMatchObject({ ok: true });
});

describe("the command line", () => {
  test("--help on every command exits 0 and documents exit codes; no command is a usage error", async () => {
    for (const argv of [["status"], ["backup", "now"], ["backup", "pull"], ["restore"], ["snapshots"], ["logs"], ["shell"]]) {
      const r = await cli([...argv, "--help"]);
      expect([argv, r.code]).toEqual([argv, Exit.OK]);
      expect(r.stdout).toMatch(/Exit codes: 0 ok/);
    }
    expect((await cli([])).code).toBe(Exit.USAGE);
    expect((await cli(["--help"])).code).toBe(Exit.OK);
  });

  test("unknown commands and flags, a flag without its value, a stray argument: exit 2, nothing runs", async () => {
    const tools = fakeTools({ pulumi: { stdout: JSON.stringify(recorded()) } });
    const env = { PATH: `${tools.dir}:${process.env.PATH}` };
    for (const argv of [["stauts"], ["backup", "later"], ["status", "--yes"], ["restore", "--from-backup"], ["backup", "pull", "extra"], ["restore", "--ys", "--from-backup", "x"], ["restore"], ["logs", "--tail", "ten"]]) {
      const r = await cli(argv, { env });
      expect([argv, r.code]).toEqual([argv, Exit.USAGE]);
    }
    expect(tools.calls("pulumi").length).toBeLessThanOrEqual(1);
  });

  test("the bin entry runs as a process and exits with the command's code", async () => {
    const { spawnSync } = await import("node:child_process");
    const root = path.join(__dirname, "..", "..");
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(root, "ops", "src", "main.ts"), "status", "--url", srv.ws, "--admin-token", "wrong-wrong-wrong-wrong-wrong-wrong"], { cwd: root, encoding: "utf8", env: { PATH: process.env.PATH } });
    expect(r.status).toBe(Exit.DENIED);
    expect(r.stdout).toMatch(/admin token was refused/);
  });
});
