/**
 * `logs` and `shell` spawn each cloud's own tool the way its component lets an operator in
 * (AWS: SSM Session Manager; GCP: IAP TCP forwarding with OS Login; DigitalOcean: SSH as
 * root; Docker: the local engine). Fake executables on PATH record the exact argv; the
 * command's exit code is the tool's.
 */
import fs from "node:fs";
import path from "node:path";
import { Exit } from "../src/exit-codes";
import { vmLogsCommand } from "../src/remote";
import { cli, fakeTools, tmpDir } from "./helpers";

const LOGS = "sudo /usr/local/sbin/sync-compose -p sync -f /etc/sync/compose.yaml logs --no-color --tail 200";
const FOLLOW = `${LOGS} --follow`;

function outputsFile(extra: Record<string, string>): string {
  const file = path.join(tmpDir(), "outputs.json");
  fs.writeFileSync(file, JSON.stringify({ url: "wss://sync.example.com/ws", hostname: "sync.example.com", ip: "203.0.113.10", ...extra }));
  return file;
}

const tools = () => fakeTools({ aws: {}, gcloud: {}, ssh: {}, docker: {} });

test("the VM-side logs command is the compose wrapper and file cloud-init installs", () => {
  expect(vmLogsCommand({})).toBe(LOGS);
  expect(vmLogsCommand({ follow: true, tail: 50 })).toBe(`${LOGS.replace("200", "50")} --follow`);
});

test.each([
  [
    "aws",
    { provider: "aws", instanceId: "i-0123456789abcdef0", region: "eu-central-1" },
    ["aws", "ssm", "start-session", "--target", "i-0123456789abcdef0", "--region", "eu-central-1", "--document-name", "AWS-StartInteractiveCommand", "--parameters", JSON.stringify({ command: [FOLLOW] })],
    ["aws", "ssm", "start-session", "--target", "i-0123456789abcdef0", "--region", "eu-central-1"],
  ],
  [
    "gcp",
    { provider: "gcp", instanceName: "prod-sync-vm", zone: "europe-west1-b", project: "my-project" },
    ["gcloud", "compute", "ssh", "prod-sync-vm", "--zone", "europe-west1-b", "--project", "my-project", "--tunnel-through-iap", "--command", FOLLOW],
    ["gcloud", "compute", "ssh", "prod-sync-vm", "--zone", "europe-west1-b", "--project", "my-project", "--tunnel-through-iap"],
  ],
  ["digitalocean", { provider: "digitalocean" }, ["ssh", "root@203.0.113.10", FOLLOW.replace(/^sudo /, "")], ["ssh", "-t", "root@203.0.113.10"]],
  ["docker", { provider: "docker", container: "dev-sync-server" }, ["docker", "logs", "--tail", "200", "--follow", "dev-sync-server"], ["docker", "exec", "-it", "dev-sync-server", "sh"]],
])("%s: logs --follow and shell spawn exactly this argv", async (_cloud, outputs, logsArgv, shellArgv) => {
  const t = tools();
  const env = { PATH: `${t.dir}:${process.env.PATH}` };
  const file = outputsFile(outputs);
  expect((await cli(["logs", "--follow", "--outputs", file], { env })).code).toBe(0);
  expect((await cli(["shell", "--outputs", file], { env })).code).toBe(0);
  const tool = logsArgv[0]!;
  expect(t.calls(tool)).toEqual([logsArgv.slice(1), shellArgv.slice(1)]);
  // --dry-run prints it instead.
  const dry = await cli(["logs", "--follow", "--outputs", file, "--dry-run", "--json"], { env });
  expect(dry.json()).toEqual({ argv: logsArgv });
  expect(t.calls(tool)).toHaveLength(2);
});

test("a template's outputs name the cloud as `cloud` (no `provider`): that picks the tool just the same", async () => {
  const t = tools();
  const env = { PATH: `${t.dir}:${process.env.PATH}` };
  const file = outputsFile({ cloud: "aws", instanceId: "i-0123456789abcdef0", region: "eu-central-1" });
  expect((await cli(["shell", "--outputs", file], { env })).code).toBe(0);
  expect(t.calls("aws")).toEqual([["ssm", "start-session", "--target", "i-0123456789abcdef0", "--region", "eu-central-1"]]);
});

test("the tool's exit code is the command's; a missing tool is 127 with how to install it", async () => {
  const failing = fakeTools({ ssh: { code: 255 } });
  const file = outputsFile({ provider: "digitalocean" });
  expect((await cli(["logs", "--outputs", file], { env: { PATH: failing.dir } })).code).toBe(255);
  const none = await cli(["shell", "--outputs", file], { env: { PATH: tmpDir() } });
  expect(none.code).toBe(Exit.TOOL_MISSING);
  expect(none.stderr).toMatch(/ssh is not on PATH: install an OpenSSH client/);
});

test("a stack without the outputs a cloud needs: exit 3 naming the output and the flag; flags fill the gap", async () => {
  const t = tools();
  const env = { PATH: `${t.dir}:${process.env.PATH}` };
  const aws = outputsFile({ provider: "aws" });
  const r = await cli(["logs", "--outputs", aws], { env });
  expect([r.code, r.stderr]).toEqual([Exit.CONFIG, expect.stringMatching(/"instanceId" stack output .* or --instance/)]);
  expect((await cli(["logs", "--outputs", aws, "--instance", "i-1"], { env })).code).toBe(0);
  expect(t.calls("aws")[0]!.slice(0, 4)).toEqual(["ssm", "start-session", "--target", "i-1"]);
  const noProvider = await cli(["shell", "--outputs", outputsFile({})], { env });
  expect([noProvider.code, noProvider.stderr]).toEqual([Exit.CONFIG, expect.stringMatching(/--provider aws\|gcp\|digitalocean\|docker/)]);
  expect((await cli(["shell", "--outputs", outputsFile({}), "--provider", "vmware"], { env })).code).toBe(Exit.USAGE);
});

test("docker without a container output: named after the stack (<stack>-sync-server), from --stack or `pulumi stack --show-name`", async () => {
  const t = fakeTools({ docker: {}, pulumi: { stdout: "dev\n" } });
  const env = { PATH: `${t.dir}:${process.env.PATH}` };
  const file = outputsFile({ provider: "docker" });
  expect((await cli(["logs", "--outputs", file], { env })).code).toBe(0);
  expect((await cli(["logs", "--outputs", file, "--stack", "staging"], { env })).code).toBe(0);
  expect(t.calls("docker")).toEqual([
    ["logs", "--tail", "200", "dev-sync-server"],
    ["logs", "--tail", "200", "staging-sync-server"],
  ]);
  expect(t.calls("pulumi")).toEqual([["stack", "--show-name"]]);
});

test("--dry-run prints a command a shell reads back as exactly the argv", async () => {
  const { execFileSync } = await import("node:child_process");
  const file = outputsFile({ provider: "aws", instanceId: "i-1", region: "us-east-1" });
  const printed = (await cli(["logs", "--follow", "--outputs", file, "--dry-run"])).stdout.trim();
  const argv = (await cli(["logs", "--follow", "--outputs", file, "--dry-run", "--json"])).json().argv as string[];
  const echoed = execFileSync("sh", ["-c", `printf '%s\\n' ${printed}`], { encoding: "utf8" }).trimEnd().split("\n");
  expect(echoed).toEqual(argv);
});
