/**
 * What scripts/setup.sh decides on a machine like CI's: a Docker CLI on PATH
 * (/usr/local/bin/docker 28, no plugins) and no engine at all. Once, `docker version`
 * failing there (no daemon) ended setup.sh silently under `set -e -o pipefail`, and the
 * CLI alone made check-tools believe Docker was installed. Runs the real scripts with a
 * stand-in CLI that behaves like that one, and with this machine's dockerd (if any)
 * hidden in a private mount namespace.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const root = path.resolve(__dirname, "..");
const isRoot = process.getuid?.() === 0;
const hasUnshare = spawnSync("unshare", ["--version"]).status === 0;

/** A docker CLI that knows its version and reaches no engine, like CI's. */
function cliOnlyDocker(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fresh-machine-"));
  fs.writeFileSync(
    path.join(dir, "docker"),
    `#!/bin/sh
case "$1" in
  --version) echo "Docker version 28.2.2, build e6534b4"; exit 0 ;;
  version) echo "Client:"; echo " Version: 28.2.2"; echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1 ;;
  *) echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
  return dir;
}

/** Runs a script with the stand-in CLI first on PATH and dockerd hidden (a non-executable file bound over it). */
function onCiLikeMachine(script: string) {
  const bin = cliOnlyDocker();
  const blank = path.join(bin, "not-dockerd");
  fs.writeFileSync(blank, "", { mode: 0o644 });
  const hide = ["/usr/sbin/dockerd", "/usr/bin/dockerd", "/usr/local/bin/dockerd"]
    .filter((p) => fs.existsSync(p))
    .map((p) => `mount --bind ${blank} ${p}`)
    .join(" && ");
  const inner = `${hide ? hide + " && " : ""}${script}`;
  const r = spawnSync("unshare", ["-m", "--propagation", "private", "bash", "-c", inner], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, DOCKER_HOST: "unix:///nonexistent/docker.sock" },
    timeout: 60_000,
  });
  fs.rmSync(bin, { recursive: true, force: true });
  return r;
}

const maybe = isRoot && hasUnshare ? describe : describe.skip;

maybe("a machine with a Docker CLI and no engine (CI's)", () => {
  test("setup.sh plans to install the engine (docker.io) and start it, and says so, instead of exiting silently", () => {
    const r = onCiLikeMachine("bash scripts/setup.sh --dry-run local");
    expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: "" });
    expect(r.stdout).toMatch(/^setup: would install Debian packages: .*\bdocker\.io\b/m);
    expect(r.stdout).toMatch(/^setup: would start a Docker engine$/m);
  });

  test("check-tools names the missing engine, not just a missing CLI", () => {
    const r = onCiLikeMachine("bash scripts/check-tools.sh local");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^missing: dockerd .*docker\.io/m);
    expect(r.stderr).not.toMatch(/^missing: docker /m);
  });

  test("the tests group alone needs no engine", () => {
    const r = onCiLikeMachine("bash scripts/check-tools.sh --packages tests");
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/docker/);
  });
});
