import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { renderCaddyfile } from "../components/render/caddyfile";
import { renderCloudInit } from "../components/render/cloud-init";
import { renderCompose, renderEnvFile } from "../components/render/compose";
import { renderVolumeScript } from "../components/render/volume-script";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "render-"));
const DIGEST_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sync@sha256:" + "a".repeat(64);

function compose() {
  return renderCompose({
    image: DIGEST_IMAGE,
    caddyImage: "caddy:2.8",
    environment: { SYNC_BACKUP_INTERVAL: "6h" },
    envFile: "/etc/sync/server.env",
    caddyfile: "/etc/sync/Caddyfile",
  });
}

function cloudInit(registry: Parameters<typeof renderCloudInit>[0]["registry"] = { kind: "none" }) {
  return renderCloudInit({
    devicePaths: ["/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0"],
    composeYaml: JSON.stringify(compose()),
    caddyfile: renderCaddyfile({ hostname: "sync.example.com", tls: "acme", acmeEmail: "ops@example.com" }),
    envFile: renderEnvFile({ SYNC_TOKEN: "secret-token-value-1234" }),
    registry,
  });
}

describe("compose", () => {
  test("server by digest on the volume, Caddy on 80/443 with its state on the volume", () => {
    const doc = parse(require("yaml").stringify(compose()));
    const server = doc.services.sync;
    expect(server.image).toMatch(/@sha256:[0-9a-f]{64}$/);
    expect(server.volumes).toEqual(["/mnt/sync/data:/data", "/mnt/sync/backups:/data/backups"]);
    expect(server.restart).toBe("unless-stopped");
    expect(server.stop_grace_period).toBe("30s");
    expect(server.healthcheck.test.join(" ")).toMatch(/readyz/);
    expect(server.ports).toBeUndefined();
    const caddy = doc.services.caddy;
    expect(caddy.ports).toEqual(["80:80", "443:443"]);
    expect(caddy.volumes).toContain("/mnt/sync/caddy:/data");
  });
  test("env file refuses a value compose would read differently: multi-line, $, #, quotes, spaces", () => {
    for (const v of ["x\nB=y", "a$B", "a #c", "'q'", '"q"', "a b", "a\\b"]) expect(() => renderEnvFile({ A: v })).toThrow(/A holds a character the env file would change/);
    expect(renderEnvFile({ A: "abc+/=._~-123" })).toBe("A=abc+/=._~-123\n");
  });
});

describe("Caddyfile", () => {
  test("acme: email, hostname, health-checked reverse proxy", () => {
    const text = renderCaddyfile({ hostname: "sync.example.com", tls: "acme", acmeEmail: "ops@example.com" });
    expect(text).toMatch(/email ops@example.com/);
    expect(text).toMatch(/^sync\.example\.com \{$/m);
    expect(text).toMatch(/reverse_proxy sync:8080/);
    expect(text).toMatch(/health_uri \/readyz/);
    expect(text).not.toMatch(/tls internal/);
  });

  test.each([
    ["acme", renderCaddyfile({ hostname: "sync.example.com", tls: "acme", acmeEmail: "ops@example.com" })],
    ["internal", renderCaddyfile({ hostname: "localhost", tls: "internal" })],
  ])("`caddy validate` accepts the %s Caddyfile", (_kind, text) => {
    const dir = tmp();
    const file = path.join(dir, "Caddyfile");
    fs.writeFileSync(file, text);
    const run = spawnSync("caddy", ["validate", "--adapter", "caddyfile", "--config", file], { encoding: "utf8", env: { ...process.env, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir, HOME: dir } });
    expect(run.error).toBeUndefined();
    expect(`${run.stdout}${run.stderr}`).toMatch(/Valid configuration/);
    expect(run.status).toBe(0);
  });
});

describe("cloud-init", () => {
  test("parses as YAML and carries the stack", () => {
    const text = cloudInit();
    expect(text.startsWith("#cloud-config\n")).toBe(true);
    const doc = parse(text);
    const paths = doc.write_files.map((f: { path: string }) => f.path);
    expect(paths).toEqual(expect.arrayContaining(["/etc/sync/compose.yaml", "/etc/sync/Caddyfile", "/etc/sync/server.env", "/etc/systemd/system/sync-stack.service"]));
    expect(doc.write_files.find((f: { path: string }) => f.path === "/etc/sync/server.env").permissions).toBe("0600");
    const install = doc.write_files.find((f: { path: string }) => f.path === "/usr/local/sbin/sync-install").content as string;
    // Debian 13's docker.io only recommends docker-cli, and the install runs with
    // --no-install-recommends: the VM suite's first trixie boot had no `docker` command.
    expect(install).toMatch(/for p in docker\.io docker-cli docker-compose /);
    expect(install).toMatch(/apt-get install -y --no-install-recommends \$missing/);
    expect(doc.runcmd).toContainEqual(["systemctl", "enable", "sync-install.service", "sync-stack.service"]);
    const unit = doc.write_files.find((f: { path: string }) => f.path.endsWith("sync-stack.service")).content as string;
    // The server drains first (clients get its 1012), then the proxy.
    expect(unit).toMatch(/ExecStop=.* stop --timeout 30 sync\nExecStop=.* stop --timeout 30 caddy\n/);
    expect(unit).toMatch(/After=docker.service/);
  });

  test.each([
    ["no login", { kind: "none" as const }],
    ["docker config", { kind: "docker-config" as const, json: '{"auths":{}}' }],
    ["credential helper", { kind: "credential-helper" as const, registry: "1.dkr.ecr.us-east-1.amazonaws.com", helper: "ecr-login", package: "amazon-ecr-credential-helper" }],
    ["login command", { kind: "login-command" as const, command: "echo token | docker login -u x --password-stdin r.example" }],
  ])("`cloud-init schema` accepts it (%s)", (_label, registry) => {
    const file = path.join(tmp(), "user-data");
    fs.writeFileSync(file, cloudInit(registry));
    const run = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    expect(run.error).toBeUndefined();
    expect(`${run.stdout}${run.stderr}`).toMatch(/Valid cloud-config/);
    expect(run.status).toBe(0);
  });

  test("`cloud-init schema` does reject a bad document (the check can fail)", () => {
    const file = path.join(tmp(), "user-data");
    fs.writeFileSync(file, "#cloud-config\npackages: 5\nwrite_files:\n  - content: no path\n");
    const run = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
    expect(run.status).not.toBe(0);
  });

  test("the mkfs is guarded by a blkid probe and a read of the device that finds it blank", () => {
    const script = renderVolumeScript({ devicePaths: ["/dev/disk/by-id/x"] });
    const lines = script.split("\n");
    const command = (l: string) => !l.trim().startsWith("#");
    const mkfs = lines.findIndex((l) => command(l) && l.includes("mkfs.ext4"));
    expect(lines.slice(0, mkfs).join("\n")).toMatch(/blkid -p "\$dev"[\s\S]*if \[ "\$status" -eq 2 \]; then[\s\S]*dd if="\$dev"[\s\S]*if \[ "\$written" -ne 0 \]; then[\s\S]*exit 1\s*\n\s*fi\s*\n.*\n?$/);
    expect(lines.filter((l) => command(l) && l.includes("mkfs"))).toHaveLength(1);
    expect(script).toMatch(/nofail/);
  });
});

/** Runs the rendered volume script for real against a loop device: root and losetup required (CI has both). */
describe("volume script on a real block device", () => {
  const canRun = process.getuid?.() === 0 && spawnSync("losetup", ["--version"]).status === 0;
  const maybe = canRun ? test : test.skip;
  if (!canRun) test("prerequisites", () => { throw new Error("this suite needs root and losetup (util-linux); .ci/run provides both"); });

  maybe("formats a blank volume once, keeps data on the next boot, and waits only so long", () => {
    const dir = tmp();
    const image = path.join(dir, "volume.img");
    fs.writeFileSync(image, Buffer.alloc(0));
    fs.truncateSync(image, 64 * 1024 * 1024);
    const loop = execFileSync("losetup", ["-f", "--show", image], { encoding: "utf8" }).trim();
    const mount = path.join(dir, "mnt");
    const fstab = path.join(dir, "fstab");
    fs.writeFileSync(fstab, "");
    const script = path.join(dir, "setup.sh");
    fs.writeFileSync(script, renderVolumeScript({ devicePaths: ["/dev/disk/by-id/does-not-exist", loop], mount, waitSeconds: 5 }), { mode: 0o755 });
    const run = () => spawnSync("sh", [script], { encoding: "utf8", env: { ...process.env, SYNC_FSTAB: fstab } });
    try {
      const first = run();
      expect(first.status).toBe(0);
      expect(first.stdout).toMatch(/no filesystem on .*, and it is blank: creating ext4/);
      expect(fs.readFileSync(fstab, "utf8")).toMatch(new RegExp(`^UUID=\\S+ ${mount} ext4 defaults,nofail`, "m"));
      for (const d of ["data", "backups", "caddy"]) expect(fs.statSync(path.join(mount, d)).isDirectory()).toBe(true);
      expect(fs.statSync(path.join(mount, "data")).uid).toBe(1000);
      fs.writeFileSync(path.join(mount, "data", "sync.db"), "precious");
      execFileSync("umount", [mount]);

      const second = run();
      expect(second.status).toBe(0);
      expect(second.stdout).toMatch(/existing filesystem .*: keeping it/);
      expect(second.stdout).not.toMatch(/creating ext4/);
      expect(fs.readFileSync(path.join(mount, "data", "sync.db"), "utf8")).toBe("precious");
      expect(fs.readFileSync(fstab, "utf8").trim().split("\n")).toHaveLength(1);
      execFileSync("umount", [mount]);

      const missing = path.join(dir, "missing.sh");
      fs.writeFileSync(missing, renderVolumeScript({ devicePaths: ["/dev/disk/by-id/never"], mount, waitSeconds: 2 }));
      const absent = spawnSync("sh", [missing], { encoding: "utf8", env: { ...process.env, SYNC_FSTAB: fstab } });
      expect(absent.status).toBe(1);
      expect(absent.stdout).toMatch(/waiting for the data volume/);
      expect(absent.stdout).toMatch(/FATAL: the data volume .* did not appear within 2s; nothing was formatted/);
    } finally {
      spawnSync("umount", [mount]);
      spawnSync("losetup", ["-d", loop]);
    }
  }, 30_000);

  /**
   * blkid -p also exits 2 when it cannot open or read the device (util-linux
   * misc-utils/blkid.c), and mkfs.ext4 without a terminal overwrites without asking
   * (e2fsprogs misc/mke2fs.c): a read error on a volume that holds data would format it.
   * Here blkid is replaced by one that always says 2, as it does on such an error.
   */
  maybe("a 'no filesystem' from blkid on a volume that is not blank formats nothing", () => {
    const dir = tmp();
    const image = path.join(dir, "volume.img");
    fs.writeFileSync(image, Buffer.alloc(0));
    fs.truncateSync(image, 64 * 1024 * 1024);
    execFileSync("mkfs.ext4", ["-q", "-F", "-L", "precious", image]);
    const loop = execFileSync("losetup", ["-f", "--show", image], { encoding: "utf8" }).trim();
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "blkid"), "#!/bin/sh\nexit 2\n", { mode: 0o755 });
    const fstab = path.join(dir, "fstab");
    fs.writeFileSync(fstab, "");
    const script = path.join(dir, "setup.sh");
    fs.writeFileSync(script, renderVolumeScript({ devicePaths: [loop], mount: path.join(dir, "mnt"), waitSeconds: 5 }), { mode: 0o755 });
    try {
      const run = spawnSync("sh", [script], { encoding: "utf8", env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, SYNC_FSTAB: fstab } });
      expect(run.status).toBe(1);
      expect(run.stdout).toMatch(/FATAL: blkid finds no filesystem on .*, yet its first MiB holds data; refusing to format it/);
      expect(execFileSync("blkid", ["-p", "-s", "LABEL", "-o", "value", loop], { encoding: "utf8" }).trim()).toBe("precious");
      expect(fs.readFileSync(fstab, "utf8")).toBe("");
    } finally {
      spawnSync("losetup", ["-d", loop]);
    }
  }, 30_000);
});
