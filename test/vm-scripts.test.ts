/**
 * The VM's scripts and units, run for real where this machine can: the volume script
 * growing a filesystem on a loop device, systemd's own verifier on the units, the
 * DOCKER-USER rule in a private network namespace, GCP's bootstrap and secret fetch and
 * AWS's secret fetch against stand-ins on loopback.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { parse, stringify } from "yaml";
import { BOOTSTRAP_CLOUD_INIT } from "../components/gcp/sync-server";
import { renderSecretFetch } from "../components/gcp/secret-fetch";
import { renderAwsSecretFetch } from "../components/aws/secret-fetch";
import { awsStandIn } from "./aws-stand-in";
import { renderCaddyfile } from "../components/render/caddyfile";
import { METADATA_BLOCK, renderCloudInit } from "../components/render/cloud-init";
import { renderCompose, renderEnvFile } from "../components/render/compose";
import { renderVolumeScript } from "../components/render/volume-script";

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "vm-scripts-"));
const isRoot = process.getuid?.() === 0;

function composeDoc() {
  return renderCompose({ image: "r.example/sync@sha256:" + "a".repeat(64), caddyImage: "r.example/caddy@sha256:" + "b".repeat(64), environment: {}, envFile: "/etc/sync/server.env", caddyfile: "/etc/sync/Caddyfile" });
}

describe("containers", () => {
  test("both run read-only, without new privileges or capabilities (Caddy keeps NET_BIND_SERVICE), with memory and pids limits", () => {
    const services = composeDoc().services as Record<string, Record<string, unknown>>;
    for (const [name, s] of Object.entries(services)) {
      expect([name, s.read_only, s.security_opt, s.cap_drop]).toEqual([name, true, ["no-new-privileges:true"], ["ALL"]]);
      expect(s.mem_limit).toMatch(/^\d+[mg]$/);
      expect(s.pids_limit).toBeGreaterThan(0);
    }
    expect(services.sync!.cap_add).toBeUndefined();
    expect(services.caddy!.cap_add).toEqual(["NET_BIND_SERVICE"]);
    expect(services.caddy!.ports).toEqual(["80:80", "443:443"]);
  });
});

describe("systemd units", () => {
  test("`systemd-analyze verify` accepts the install and stack units (Restart= on a oneshot, retry settings)", () => {
    const doc = parse(
      renderCloudInit({
        devicePaths: ["/dev/disk/by-id/x"],
        composeYaml: stringify(composeDoc()),
        caddyfile: renderCaddyfile({ hostname: "sync.example.com", tls: "acme" }),
        envFile: renderEnvFile({ SYNC_TOKEN: "t".repeat(48) }),
        registry: { kind: "none" },
      }),
    );
    const root = tmp();
    const units: string[] = [];
    for (const f of doc.write_files as Array<{ path: string; content: string; permissions: string }>) {
      const target = path.join(root, f.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, f.content, { mode: parseInt(f.permissions, 8) });
      if (/\/etc\/systemd\/system\/[^/]+\.service$/.test(f.path)) units.push(target);
    }
    expect(units.map((u) => path.basename(u)).sort()).toEqual(["sync-install.service", "sync-stack.service"]);
    // ExecStart paths must exist for the verifier: point them at the rendered copies.
    for (const u of units) fs.writeFileSync(u, fs.readFileSync(u, "utf8").replace(/=(\/usr\/local\/sbin\/)/g, `=${root}$1`).replace(/Requires=docker.service /, "Requires=").replace(/After=docker.service /, "After="));
    const run = spawnSync("systemd-analyze", ["verify", "--man=no", ...units], { encoding: "utf8" });
    expect(run.error).toBeUndefined();
    const complaints = `${run.stdout}${run.stderr}`.split("\n").filter((l) => l.trim() && !/Failed to prepare filename|dependency|Unit .* not found|Falling back|No such file/.test(l));
    expect(complaints).toEqual([]);
    const stack = fs.readFileSync(units.find((u) => u.endsWith("sync-stack.service"))!, "utf8");
    expect(stack).toMatch(/^Restart=on-failure$/m);
    expect(stack).toMatch(/^StartLimitIntervalSec=0$/m);
  });

  test("the install script uses apt with retries and a lock timeout, through an apt.conf file", () => {
    const doc = parse(renderCloudInit({ devicePaths: ["/dev/x"], composeYaml: "{}", caddyfile: "", envFile: "", registry: { kind: "none" } }));
    const apt = doc.write_files.find((f: { path: string }) => f.path === "/etc/apt/apt.conf.d/80-sync-retries").content;
    expect(apt).toMatch(/Acquire::Retries "10";/);
    expect(apt).toMatch(/DPkg::Lock::Timeout "600";/);
    // cloud-init's own package module is not used: its failure is never retried.
    expect(doc.packages).toBeUndefined();
    expect(doc.package_update).toBeUndefined();
  });
});

describe("as root on this machine", () => {
  const maybe = isRoot && spawnSync("losetup", ["--version"]).status === 0 ? test : test.skip;

  maybe("the volume script grows the filesystem when the disk has grown, and keeps the data", () => {
    const dir = tmp();
    const image = path.join(dir, "volume.img");
    fs.writeFileSync(image, Buffer.alloc(0));
    fs.truncateSync(image, 64 * 1024 * 1024);
    const loop = execFileSync("losetup", ["-f", "--show", image], { encoding: "utf8" }).trim();
    const mount = path.join(dir, "mnt");
    const fstab = path.join(dir, "fstab");
    fs.writeFileSync(fstab, "");
    const script = path.join(dir, "setup.sh");
    fs.writeFileSync(script, renderVolumeScript({ devicePaths: [loop], mount, waitSeconds: 5 }), { mode: 0o755 });
    const run = () => spawnSync("sh", [script], { encoding: "utf8", env: { ...process.env, SYNC_FSTAB: fstab } });
    const sizeKb = () => Number(execFileSync("df", ["-Pk", mount], { encoding: "utf8" }).split("\n")[1]!.split(/\s+/)[1]);
    try {
      expect(run().status).toBe(0);
      const before = sizeKb();
      fs.writeFileSync(path.join(mount, "data", "sync.db"), "precious");
      for (const d of ["data", "backups", "caddy"]) expect([d, fs.statSync(path.join(mount, d)).mode & 0o777]).toEqual([d, 0o700]);
      execFileSync("umount", [mount]);
      // The cloud grew the disk: 64 → 192 MiB.
      fs.truncateSync(image, 192 * 1024 * 1024);
      execFileSync("losetup", ["-c", loop]);
      const second = run();
      expect(second.status).toBe(0);
      expect(second.stdout).toMatch(/grew the filesystem/);
      expect(sizeKb()).toBeGreaterThan(before * 2.5);
      expect(fs.readFileSync(path.join(mount, "data", "sync.db"), "utf8")).toBe("precious");
    } finally {
      spawnSync("umount", [mount]);
      spawnSync("losetup", ["-d", loop]);
    }
  }, 60_000);

  const netns = isRoot && spawnSync("unshare", ["-n", "iptables", "-w", "-L"]).status === 0 ? test : test.skip;
  netns("the metadata block inserts one DOCKER-USER rule rejecting 169.254.169.254, however often it runs", () => {
    const dir = tmp();
    const script = path.join(dir, "block.sh");
    fs.writeFileSync(script, METADATA_BLOCK, { mode: 0o755 });
    // A private network namespace: the host's firewall is never touched.
    const out = execFileSync("unshare", ["-n", "sh", "-c", `sh ${script} && sh ${script} && sh ${script} && iptables -w -S DOCKER-USER`], { encoding: "utf8" });
    const rules = out.split("\n").filter((l) => l.startsWith("-A DOCKER-USER"));
    expect(rules).toEqual(["-A DOCKER-USER -d 169.254.169.254/32 -j REJECT --reject-with icmp-host-prohibited"]);
  });
});

describe("GCP bootstrap", () => {
  /** Runs the startup script with stand-ins for apt-get and cloud-init on PATH. */
  function bootstrap(opts: { aptFailures: number; failingStage?: string }) {
    const dir = tmp();
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    const calls = path.join(dir, "calls");
    const counter = path.join(dir, "apt-count");
    fs.writeFileSync(counter, "0");
    fs.writeFileSync(
      path.join(bin, "apt-get"),
      `#!/bin/sh\necho "apt-get $*" >> ${calls}\nn=$(cat ${counter}); n=$((n+1)); echo $n > ${counter}\nif [ $n -le ${opts.aptFailures * 2} ] && [ "$(echo "$*" | grep -c update)" = 1 ]; then exit 100; fi\ncase "$*" in *install*) printf '#!/bin/sh\\necho "cloud-init $*" >> ${calls}\\ncase "$*" in "${opts.failingStage ?? "none"}") exit 1;; esac\\n' > ${bin}/cloud-init; chmod +x ${bin}/cloud-init;; esac\nexit 0\n`,
      { mode: 0o755 },
    );
    fs.writeFileSync(path.join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "logger"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
    // Only the stand-ins and a few basic tools on PATH: this machine's own cloud-init stays out of sight.
    const tools = path.join(dir, "tools");
    fs.mkdirSync(tools);
    for (const t of ["sh", "cat", "grep", "chmod", "printf", "echo"]) {
      const real = execFileSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).trim();
      if (real.startsWith("/")) fs.symlinkSync(real, path.join(tools, t));
    }
    const script = path.join(dir, "startup.sh");
    fs.writeFileSync(script, BOOTSTRAP_CLOUD_INIT);
    const run = spawnSync("/bin/sh", [script], { encoding: "utf8", env: { PATH: `${bin}:${tools}` } });
    return { run, calls: fs.existsSync(calls) ? fs.readFileSync(calls, "utf8").trim().split("\n") : [] };
  }

  test("apt failures are retried until cloud-init is installed", () => {
    const { run, calls } = bootstrap({ aptFailures: 3 });
    expect(run.status).toBe(0);
    expect(calls.filter((c) => c.includes("install -y cloud-init"))).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith("cloud-init"))).toEqual(["cloud-init init --local", "cloud-init init", "cloud-init modules --mode=config", "cloud-init modules --mode=final"]);
  });

  test("a stage that reports a module error does not skip the later stages", () => {
    const { run, calls } = bootstrap({ aptFailures: 0, failingStage: "modules --mode=config" });
    expect(run.status).toBe(0);
    expect(calls).toContain("cloud-init modules --mode=final");
    expect(run.stdout).toMatch(/cloud-init modules --mode=config reported an error; continuing/);
  });
});

describe("GCP secrets", () => {
  test("the VM's env file comes from Secret Manager with the metadata server's token, written 0600", async () => {
    const env = renderEnvFile({ SYNC_TOKEN: "tok-123", SYNC_JWT_SECRET: "j".repeat(32) });
    const seen: string[] = [];
    const server = http.createServer((req, res) => {
      seen.push(`${req.url} ${req.headers["metadata-flavor"] ?? ""} ${req.headers.authorization ?? ""}`);
      if (req.url === "/computeMetadata/v1/instance/service-accounts/default/token" && req.headers["metadata-flavor"] === "Google") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ access_token: "ya29.vm", expires_in: 3599, token_type: "Bearer" }));
      } else if (req.url === "/v1/projects/proj/secrets/prod-sync-env/versions/latest:access" && req.headers.authorization === "Bearer ya29.vm") {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ name: "x", payload: { data: Buffer.from(env).toString("base64") } }));
      } else {
        res.writeHead(403).end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = tmp();
    const target = path.join(dir, "server.env");
    const script = path.join(dir, "fetch.sh");
    fs.writeFileSync(script, renderSecretFetch("proj", "prod-sync-env").replaceAll("/etc/sync/server.env", target));
    try {
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn("sh", [script], { env: { ...process.env, GCE_METADATA: base, SECRET_MANAGER_API: base } });
        child.on("exit", resolve);
      });
      expect(code).toBe(0);
      expect(fs.readFileSync(target, "utf8")).toBe(env);
      expect(fs.statSync(target).mode & 0o777).toBe(0o600);
      expect(seen[0]).toMatch(/ Google $/);
    } finally {
      server.close();
    }
  });

  test("unsafe ids never reach the script", () => {
    expect(() => renderSecretFetch("proj; rm -rf /", "x")).toThrow(/unsafe project/);
  });
});

describe("AWS secrets", () => {
  const env = renderEnvFile({ SYNC_TOKEN: "tok-aws", SYNC_JWT_SECRET: "j".repeat(32), SYNC_ADMIN_TOKEN: "adm-aws" });
  const name = "prod-sync/server-env";

  /** Runs the rendered script (python3, as the VM does) against a stand-in; the env file goes to a temp dir. */
  async function runFetch(standIn: ReturnType<typeof awsStandIn>, envOverride: Record<string, string> = {}, existing?: string) {
    const server = http.createServer(standIn.handler);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = tmp();
    const target = path.join(dir, "server.env");
    const script = path.join(dir, "fetch.py");
    if (existing !== undefined) fs.writeFileSync(target, existing, { mode: 0o600 });
    fs.writeFileSync(script, renderAwsSecretFetch("eu-west-3", name).replaceAll("/etc/sync/server.env", target));
    try {
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn("/usr/bin/python3", [script], { env: { ...process.env, AWS_EC2_METADATA_SERVICE_ENDPOINT: base, AWS_ENDPOINT_URL_SECRETS_MANAGER: base, ...envOverride } });
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("exit", (code) => resolve({ code, stderr }));
      });
      return { ...result, target, dir };
    } finally {
      server.close();
    }
  }

  test("the env file comes from Secrets Manager, signed (SigV4, checked by AWS's own signer) with the role's IMDSv2 credentials, written 0600", async () => {
    const standIn = awsStandIn({ region: "eu-west-3", secrets: { [name]: env } });
    const run = await runFetch(standIn);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(fs.readFileSync(run.target, "utf8")).toBe(env);
    expect(fs.statSync(run.target).mode & 0o777).toBe(0o600);
    expect(standIn.seen).toEqual([
      "IMDS PUT /latest/api/token",
      "IMDS GET /latest/meta-data/iam/security-credentials/",
      "IMDS GET /latest/meta-data/iam/security-credentials/sync-vm-role",
      `SM secretsmanager.GetSecretValue ${name} ok`,
    ]);
    // Nothing but the env file is left behind.
    expect(fs.readdirSync(run.dir).sort()).toEqual(["fetch.py", "server.env"]);
  });

  test("a signature for another region is refused, and the old env file stays", async () => {
    const standIn = awsStandIn({ region: "us-east-1", secrets: { [name]: env } });
    const run = await runFetch(standIn, {}, "SYNC_TOKEN=old\n");
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/GetSecretValue prod-sync\/server-env: HTTP 403 .*InvalidSignatureException/);
    expect(fs.readFileSync(run.target, "utf8")).toBe("SYNC_TOKEN=old\n");
    expect(standIn.seen.at(-1)).toBe("SM secretsmanager.GetSecretValue bad-signature");
  });

  test("an IAM grant not yet propagated fails the start (systemd retries), naming the error, not the secret", async () => {
    const standIn = awsStandIn({ region: "eu-west-3", secrets: { [name]: env }, denied: true });
    const run = await runFetch(standIn);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/AccessDeniedException/);
    expect(run.stderr).not.toMatch(/tok-aws/);
    expect(fs.existsSync(run.target)).toBe(false);
  });

  test("a secret without SYNC_TOKEN is refused; no metadata service fails fast", async () => {
    const empty = await runFetch(awsStandIn({ region: "eu-west-3", secrets: { [name]: "OTHER=1\n" } }));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(/the secret holds no SYNC_TOKEN/);
    expect(fs.existsSync(empty.target)).toBe(false);
    const none = await runFetch(awsStandIn({ region: "eu-west-3", secrets: {} }), { AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:9" });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/IMDSv2 token: .*(refused|Connection)/i);
  });

  test("unsafe names never reach the script", () => {
    expect(() => renderAwsSecretFetch("eu-west-3", 'x"; import os')).toThrow(/unsafe secret name/);
    expect(() => renderAwsSecretFetch("eu-west-3; x", name)).toThrow(/not an AWS region/);
  });
});
