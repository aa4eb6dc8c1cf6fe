/**
 * The CI files are code we cannot run here (GitHub Actions, GitLab CI), so they are
 * checked against their official schemas by maintained validators, plus our own rules:
 * every stack is previewed, every action is pinned by commit SHA, permissions are
 * explicit, and every command is a real npm script, file or CLI.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { parse } from "yaml";

const ROOT = path.join(__dirname, "..");
const read = (p: string) => fs.readFileSync(path.join(ROOT, p), "utf8");
const WORKFLOWS = fs.readdirSync(path.join(ROOT, ".github/workflows")).filter((f) => f.endsWith(".yml")).map((f) => `.github/workflows/${f}`);
const STACKS = fs.readdirSync(path.join(ROOT, "stacks")).map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1]).filter((s): s is string => !!s).sort();
const SCRIPTS = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

/** gitlab-ci-local validates against GitLab's own JSON schema (it bundles gitlab-org's ci.json). */
function gitlabValidate(yamlText: string) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitlab-ci-"));
  fs.writeFileSync(path.join(dir, ".gitlab-ci.yml"), yamlText);
  fs.cpSync(path.join(ROOT, ".gitlab"), path.join(dir, ".gitlab"), { recursive: true });
  spawnSync("git", ["init", "-q"], { cwd: dir });
  const bin = path.join(ROOT, "node_modules/gitlab-ci-local/dist/index.js");
  const run = spawnSync(process.execPath, [bin, "--list"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** The validator warns on stderr that it cannot check `paths` globs; that is a limit of the tool, not a finding. */
function validate(text: string) {
  const warn = jest.spyOn(console, "warn").mockImplementation((msg: unknown) => {
    if (!String(msg).includes("Glob validation is not yet supported")) process.stderr.write(`${String(msg)}\n`);
  });
  try {
    return validateWorkflow(text);
  } finally {
    warn.mockRestore();
  }
}

describe("GitHub workflows", () => {
  test.each(WORKFLOWS)("%s passes the official workflow schema", (file) => {
    expect(validate(read(file)).errors).toEqual([]);
  });
  test("the validator rejects a broken workflow (negative control)", () => {
    expect(validate("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    stepz: []\n").errors.length).toBeGreaterThan(0);
  });
  test.each(WORKFLOWS)("%s pins every action by commit SHA and declares least-privilege permissions", (file) => {
    const doc: Doc = parse(read(file));
    expect(doc.permissions).toBeDefined();
    expect(JSON.stringify(doc.permissions)).not.toMatch(/write-all/);
    for (const [name, job] of Object.entries<Doc>(doc.jobs)) {
      for (const step of job.steps ?? []) {
        if (step.uses) expect([name, step.uses]).toEqual([name, expect.stringMatching(/^[\w.-]+\/[\w.-]+@[0-9a-f]{40}$/)]);
      }
    }
  });
  test("every stack in stacks/ is in each preview/deploy matrix", () => {
    for (const file of [".github/workflows/preview.yml", ".github/workflows/deploy.yml"]) {
      const doc: Doc = parse(read(file));
      const job = Object.values<Doc>(doc.jobs).find((j) => j.strategy?.matrix?.stack);
      expect([file, [...job.strategy.matrix.stack].sort()]).toEqual([file, STACKS]);
    }
  });
  test("the preview runs with the policy pack, as a diff, commented on the pull request, in a reviewed environment", () => {
    const doc: Doc = parse(read(".github/workflows/preview.yml"));
    const step = doc.jobs.preview.steps.find((s: Doc) => String(s.uses).startsWith("pulumi/actions@"));
    expect(step.with).toMatchObject({ command: "preview", diff: true, "comment-on-pr": true, policyPacks: "policy" });
    expect(doc.jobs.preview.environment).toBe("preview");
    expect(doc.jobs.preview.needs).toBe("test");
    expect(fs.existsSync(path.join(ROOT, step.with.policyPacks, "PulumiPolicy.yaml"))).toBe(true);
  });
});

describe("GitLab CI", () => {
  test(".gitlab-ci.yml passes GitLab's CI schema", () => {
    const result = gitlabValidate(read(".gitlab-ci.yml"));
    expect(result.output).toMatch(/json schema validated/);
    expect(result.status).toBe(0);
  });
  test("the validator rejects a broken pipeline (negative control)", () => {
    const result = gitlabValidate("test:\n  script: [echo]\n  when: sometimes\n");
    expect(result.status).not.toBe(0);
  });
  test("every stack in stacks/ is in the preview matrix, run with the policy pack", () => {
    const doc: Doc = parse(read(".gitlab-ci.yml"));
    expect([...doc.preview.parallel.matrix[0].STACK].sort()).toEqual(STACKS);
    expect(doc.preview.script.join("\n")).toMatch(/pulumi preview --diff .*--policy-pack policy/);
  });
});

/** Each shell command in a run step or script line, split on && / ; / |. */
function commands(text: string): string[] {
  return text
    .split("\n")
    .flatMap((line) => line.split(/&&|;|\|/))
    .map((c) => c.trim())
    .filter((c) => c && !c.startsWith("#"));
}

const KNOWN_CLIS = new Set(["pulumi", "curl", "apt-get", "export", "echo", "tee", "sh", "git"]);

function checkCommand(cmd: string): string | null {
  let words = cmd.split(/\s+/);
  // `sudo [--flags] <command>`: judge the command.
  if (words[0] === "sudo") words = words.slice(1).filter((w, i, all) => !(w.startsWith("-") && all.slice(0, i).every((x) => x.startsWith("-"))));
  const [bin, sub, arg] = words;
  if (bin === "npm") {
    if (sub === "test") return SCRIPTS.test ? null : "npm test without a test script";
    if (sub === "run") return SCRIPTS[arg!] ? null : `npm run ${arg}: no such script`;
    if (sub === "ci") {
      const prefix = words.indexOf("--prefix");
      const dir = prefix > 0 ? words[prefix + 1]! : ".";
      return fs.existsSync(path.join(ROOT, dir, "package-lock.json")) ? null : `npm ci in ${dir}: no lockfile`;
    }
    return `npm ${sub}: not allowed in CI`;
  }
  if (bin === "bash") return fs.existsSync(path.join(ROOT, sub!)) ? null : `bash ${sub}: no such file`;
  return KNOWN_CLIS.has(bin!) ? null : `${bin}: not a known CLI`;
}

test("every command the pipelines run is a real npm script, file or CLI", () => {
  const all: string[] = [];
  for (const file of WORKFLOWS) {
    const doc: Doc = parse(read(file));
    for (const job of Object.values<Doc>(doc.jobs)) for (const step of job.steps ?? []) if (step.run) all.push(...commands(step.run));
  }
  const gitlab: Doc = parse(read(".gitlab-ci.yml"));
  for (const job of Object.values<Doc>(gitlab)) if (job && Array.isArray(job.script)) all.push(...job.script.flatMap((s: string) => commands(s)));
  expect(all.length).toBeGreaterThan(5);
  // `echo` lines in skip steps carry workflow expressions; everything else must resolve.
  expect(all.map(checkCommand).filter(Boolean)).toEqual([]);
});
