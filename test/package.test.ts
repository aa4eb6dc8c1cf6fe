/**
 * The package as a user gets it: `npm pack`, unpacked into a fresh project's
 * node_modules, imported by each template's program exactly as `pulumi new` lays it out.
 * The programs type-check against the packed .d.ts files and run under mocks, each
 * creating its cloud's full resource set. The template files themselves must pass the
 * CLI's rules for `pulumi new` (pulumi/pulumi pkg/cmd/pulumi/project/newcmd/config.go).
 */
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { runProgram } from "./mocks";

const ROOT = path.join(__dirname, "..");
const CLOUDS = ["aws", "digitalocean", "gcp", "docker"] as const;
const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { name: string; version: string; dependencies: Record<string, string> };

/** What each cloud's template must create (the same sets the stack tests expect). */
const EXPECTED: Record<(typeof CLOUDS)[number], string[]> = {
  aws: ["aws:ebs/volume:Volume", "aws:ec2/instance:Instance", "aws:ec2/volumeAttachment:VolumeAttachment", "aws:ec2/eip:Eip", "aws:ec2/securityGroup:SecurityGroup", "aws:dlm/lifecyclePolicy:LifecyclePolicy", "aws:ecr/repository:Repository", "docker:index/image:Image"],
  digitalocean: ["digitalocean:index/volume:Volume", "digitalocean:index/droplet:Droplet", "digitalocean:index/reservedIp:ReservedIp", "digitalocean:index/firewall:Firewall", "docker:index/image:Image"],
  gcp: ["gcp:compute/disk:Disk", "gcp:compute/instance:Instance", "gcp:compute/address:Address", "gcp:compute/firewall:Firewall", "gcp:compute/resourcePolicy:ResourcePolicy", "docker:index/image:Image"],
  docker: ["docker:index/volume:Volume", "docker:index/container:Container", "docker:index/network:Network", "docker:index/image:Image"],
};

/** Sample answers to the prompts that have no default (secrets get placeholders). */
const SAMPLE: Record<string, string> = {
  "athens-sync:doSnapshotToken": "dop_v1_" + "f".repeat(64),
  "digitalocean:token": "dop_v1_" + "e".repeat(64),
  "gcp:project": "my-project",
};

interface TemplateConfigValue {
  description?: string;
  default?: string;
  secret?: boolean;
}
const templateDoc = (cloud: string) =>
  parse(fs.readFileSync(path.join(ROOT, "templates", cloud, "Pulumi.yaml"), "utf8")) as { name: string; runtime: unknown; config?: unknown; template: { displayName: string; description: string; config: Record<string, TemplateConfigValue> } };

describe("templates pass the CLI's rules for `pulumi new`", () => {
  test.each(CLOUDS)("%s", (cloud) => {
    const doc = templateDoc(cloud);
    expect(doc.name).toBe("${PROJECT}");
    expect(doc.template.displayName.length).toBeGreaterThan(5);
    expect(doc.template.description.length).toBeGreaterThan(20);
    // Project-level config declarations without a default would make every stack "missing configuration values".
    expect(doc.config).toBeUndefined();
    for (const [key, value] of Object.entries(doc.template.config)) {
      // An unqualified key is stored under the user's project name (ParseConfigKeyForProject), which the program never reads.
      expect([key, key.includes(":")]).toEqual([key, true]);
      expect([key, (value.description ?? "").length > 10]).toEqual([key, true]);
      // Tokens are stored encrypted (encryptTemplateConfig) only when marked secret.
      if (/token|secret|password|key$/i.test(key)) expect([key, value.secret]).toEqual([key, true]);
    }
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "templates", cloud, "package.json"), "utf8")) as { name: string; dependencies: Record<string, string> };
    expect(pkg.name).toBe("${PROJECT}");
    // Thin: the template depends on the package, never a copy of it, at this version.
    expect(pkg.dependencies[PKG.name]).toBe(PKG.version);
    expect(pkg.dependencies["@pulumi/pulumi"]).toBe(PKG.dependencies["@pulumi/pulumi"]);
    expect(fs.readFileSync(path.join(ROOT, "templates", cloud, "index.ts"), "utf8").split("\n").length).toBeLessThan(20);
  });
});

describe("the packed package", () => {
  let project: string;
  let files: string[];

  beforeAll(() => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), "pack-"));
    const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", out], { cwd: ROOT, encoding: "utf8", env: { ...process.env, npm_config_loglevel: "error" } }).trim().split("\n").pop()!;
    files = execFileSync("tar", ["tzf", path.join(out, tarball)], { encoding: "utf8" }).split("\n").filter(Boolean);
    // A fresh project with the package unpacked into node_modules, and the package's
    // own dependencies linked from this checkout (npm would fetch the same pinned versions).
    project = fs.mkdtempSync(path.join(os.tmpdir(), "user-project-"));
    const installed = path.join(project, "node_modules", PKG.name);
    fs.mkdirSync(installed, { recursive: true });
    execFileSync("tar", ["xzf", path.join(out, tarball), "-C", installed, "--strip-components=1"]);
    for (const dep of ["@pulumi", "@types", "yaml", "zod", "typescript", "@grpc", "google-protobuf"]) {
      fs.symlinkSync(path.join(ROOT, "node_modules", dep), path.join(project, "node_modules", dep));
    }
    for (const cloud of CLOUDS) fs.copyFileSync(path.join(ROOT, "templates", cloud, "index.ts"), path.join(project, `${cloud}.ts`));
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({ compilerOptions: { strict: true, noEmit: true, target: "ES2022", module: "node16", moduleResolution: "node16", skipLibCheck: true, esModuleInterop: true, types: ["node"] }, files: CLOUDS.map((c) => `${c}.ts`) }),
    );
  }, 180_000);

  test("holds the compiled API with types, the server's build context and no tests", () => {
    for (const f of ["package/dist/components/index.js", "package/dist/components/index.d.ts", "package/dist/components/aws/index.d.ts", "package/server/Dockerfile", "package/server/package-lock.json", "package/protocol/src/index.ts", "package/.dockerignore", "package/client/package-lock.json", "package/client/build.mjs", "package/client/demo/outliner.ts", "package/client/src/client.ts"]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /\/(test|node_modules)\//.test(f) || f.endsWith(".test.ts"))).toEqual([]);
  });

  test("its bin, athens-sync, runs from the installed copy", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(project, "node_modules", PKG.name, "package.json"), "utf8")) as { bin: Record<string, string> };
    const main = path.join(project, "node_modules", PKG.name, pkg.bin["athens-sync"]!);
    expect(files).toContain(`package/${pkg.bin["athens-sync"]!.replace(/^\.\//, "")}`);
    expect(fs.readFileSync(main, "utf8").startsWith("#!/usr/bin/env node")).toBe(true);
    const help = spawnSync(process.execPath, [main, "--help"], { cwd: project, encoding: "utf8" });
    expect({ status: help.status, stderr: help.stderr }).toEqual({ status: 0, stderr: "" });
    expect(help.stdout).toMatch(/^usage: athens-sync <command>/);
    for (const command of ["status", "backup", "restore", "snapshots", "logs", "shell"]) expect(help.stdout).toContain(command);
  });

  test("each template type-checks against the packed .d.ts files", () => {
    const tsc = spawnSync(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", project], { encoding: "utf8" });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe("");
    expect(tsc.status).toBe(0);
  });

  test.each(CLOUDS)("the %s template runs under mocks and creates its cloud's resource set", async (cloud) => {
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(templateDoc(cloud).template.config)) {
      const answer = value.default ?? SAMPLE[key];
      if (key.startsWith("athens-sync:") && answer !== undefined) config[key.slice("athens-sync:".length)] = answer;
    }
    const program = path.join(project, `${cloud}.ts`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const run = await runProgram(config, `template-${cloud}`, async () => ({ ...(require(program) as Record<string, never>) }));
    const types = new Set(run.resources.map((r) => r.type));
    expect(EXPECTED[cloud].filter((t) => !types.has(t))).toEqual([]);
    // The build context resolves inside the installed copy, not this checkout.
    const image = run.resources.find((r) => r.type === "docker:index/image:Image")!;
    expect(image.inputs.build.context).toBe(path.join(fs.realpathSync(project), "node_modules", PKG.name));
    expect(run.resolved.url).toMatch(/^wss:\/\/.+\/ws$/);
  });
});

describe("the README's deploy buttons", () => {
  const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const repo = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { repository: { url: string } }).repository.url.replace(/^git\+/, "").replace(/\.git$/, "");
  const buttons = [...readme.matchAll(/\]\((https:\/\/app\.pulumi\.com\/new\?template=([^)\s]+))\)/g)].map((m) => m[2]!);
  const newLines = [...readme.matchAll(/`pulumi new (\S+)`/g)].map((m) => m[1]!);

  test("one button and one `pulumi new` line per template, each pointing at a template directory that exists", () => {
    const dirs = fs.readdirSync(path.join(ROOT, "templates")).sort();
    for (const urls of [buttons, newLines]) {
      const targets = urls.map((u) => {
        expect(u.startsWith(`${repo}/tree/main/`)).toBe(true);
        return u.slice(`${repo}/tree/main/`.length);
      });
      expect(targets.map((t) => t.replace(/^templates\//, "")).sort()).toEqual(dirs);
      for (const t of targets) expect(fs.existsSync(path.join(ROOT, t, "Pulumi.yaml"))).toBe(true);
    }
    expect(readme).toContain("https://get.pulumi.com/new/button.svg");
  });
});
