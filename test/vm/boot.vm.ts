/**
 * The VM suite: each cloud's real, rendered user data boots on a qemu VM (TCG) built
 * from Debian packages, with a data disk shaped like that cloud's volume, on a network
 * confined to an apt cache and a registry on this host's loopback.
 *
 * Four boots or so cover the five cases of issue 12:
 *   AWS  first boot, with the apt cache down for the first minutes (transient failure)
 *        -> ACPI shutdown (clients see 1012) -> data disk enlarged (qemu-img resize)
 *        -> replacement: a new root overlay with the same data disk (growth, no reformat,
 *           every acknowledged tx, resume from since) -> reboot of that VM
 *   DigitalOcean first boot, GCP first boot, each with its own user data.
 *
 * The AWS and GCP VMs fetch their secrets (GCP: its registry token too) from a stand-in
 * for the cloud's metadata server and secret store on this host (test/aws-stand-in.ts,
 * test/gcp-stand-in.ts), held to the cloud's rules: SigV4 checked by AWS's own signer;
 * GCP's Metadata-Flavor header and bearer token.
 *
 * Not reproducible here (see README "VM suite"):
 *   - AWS: the ECR login through the instance role. The user data's ecr-login credential
 *     helper is installed and configured, but this registry is not ECR: pulls are anonymous.
 *     The IAM policies behind the secret and the registry.
 *   - GCP: the service account's grants, and the startup script that installs cloud-init
 *     on GCE's image (this guest image ships cloud-init, as a cloud-init-enabled image would).
 *   - DigitalOcean: the registry credentials are the product's own docker config, for
 *     registry.digitalocean.com; this registry needs none.
 */
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { MIGRATIONS } from "../../server/src/storage/migrations";
import { type Client, clientView, type Msg } from "../../server/test/helpers";
import { caddyCa, connect, failOnPanic, lastT, lines, log, healthzThroughCaddy, retryOnPanic, seconds, serverLogOnceListening, superblock, volumeLog, waitState } from "./harness";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { awsStandIn } from "../aws-stand-in";
import { gcpStandIn } from "../gcp-stand-in";
import { GUEST_CLOUD_API, newOverlay, Vm } from "./qemu";
import { cloudApiBoothook, writeSeed } from "./seed";
import { AptCache, portOpen } from "./services";
import { type Cloud, type CloudUserData, loopbackImages, MOCK_AWS_REGION, MOCK_GCP_PROJECT, renderCloudUserData } from "./user-data";

/**
 * Puts each image the user data names into the loopback registry under that repository,
 * as the stack's image resources push to the cloud's registry. Same image, same digest.
 */
function pushNamedImages(userData: string, cloud: Cloud): void {
  const named = loopbackImages(userData);
  if (named.length === 0) log(`${cloud}: the user data names no image in the loopback registry; the guest cannot pull (see README)`);
  for (const [repo, digest] of named) {
    const local = localImages[digest];
    if (!local) throw new Error(`${cloud}: the user data names ${repo}@${digest}, which this suite did not build`);
    const ref = `127.0.0.1:${ports.registry}/${repo}:vm`;
    execFileSync("docker", ["tag", local, ref]);
    const out = execFileSync("docker", ["push", ref], { encoding: "utf8" });
    if (!out.includes(`digest: ${digest}`)) throw new Error(`pushing ${local} to ${ref} gave another digest:\n${out}`);
  }
}

const env = (name: string) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the VM suite with \`npm run test:vm\` (scripts/vm/run.sh)`);
  return v;
};
const MIN = 60_000;
const FIRST_BOOT_MS = Number(process.env.VM_FIRST_BOOT_MINUTES ?? 25) * MIN;
const NEXT_BOOT_MS = Number(process.env.VM_NEXT_BOOT_MINUTES ?? 20) * MIN;
const SHUTDOWN_MS = 5 * MIN;
const DATA_DISK_BYTES = 4 * 1024 ** 3;
const GROW_BYTES = 2 * 1024 ** 3;

/**
 * Which clouds boot (VM_CLOUDS, comma-separated; CI boots all three). VM_CLOUDS=aws
 * runs only the AWS boots (first boot with the apt cache down, shutdown, growth,
 * replacement, reboot) while working on the harness.
 */
const CLOUDS = new Set((process.env.VM_CLOUDS ?? "aws,digitalocean,gcp").split(",").map((c) => c.trim()));
const describeIf = (cloud: Cloud) => (CLOUDS.has(cloud) ? describe : describe.skip);
const cache = env("VM_CACHE");
const imageDir = env("VM_IMAGE_DIR");
const images = { serverDigest: env("VM_SERVER_DIGEST"), caddyDigest: env("VM_CADDY_DIGEST"), caddyRef: env("VM_CADDY_REF") };
const localImages: Record<string, string> = { [images.serverDigest]: env("VM_SERVER_LOCAL"), [images.caddyDigest]: env("VM_CADDY_LOCAL") };
const ports = { apt: Number(env("VM_APT_PORT")), registry: Number(env("VM_REGISTRY_PORT")), https: Number(env("VM_HTTPS_PORT")) };
const runDir = path.join(cache, "runs", new Date().toISOString().replace(/[:.]/g, "-"));
/**
 * Earlier runs' directories hold their VMs' disks (about 2 GB a run): the two newest stay
 * for a look, older ones go. Kept without end, 17 runs had filled this machine's disk.
 */
const KEEP_RUNS = 2;
const runsDir = path.dirname(runDir);
if (fs.existsSync(runsDir)) for (const old of fs.readdirSync(runsDir).sort().slice(0, -KEEP_RUNS)) fs.rmSync(path.join(runsDir, old), { recursive: true, force: true });
const apt = new AptCache(ports.apt, path.join(cache, "apt-cacher-ng"));
const times: Array<[string, number]> = [];
const open: Client[] = [];
const vms: Vm[] = [];

function timed(step: string, ms: number): void {
  times.push([step, ms]);
  log(`STEP ${step}: ${seconds(ms)}`);
}

/** One cloud's VM: its user data (rendered once; a replacement boots the same), disk and boots. */
class CloudVm {
  ud!: CloudUserData;
  vm!: Vm;
  readonly dir: string;
  readonly disk: string;
  boots = 0;
  /**
   * AWS and GCP: the metadata server and secret store the VM fetches its secrets from (GCP:
   * its registry login's token too), on this host's loopback (test/aws-stand-in.ts,
   * test/gcp-stand-in.ts). `seen` lists the requests it answered; `boothook` points the VM at it.
   */
  standIn?: { server: http.Server; port: number; seen: string[]; boothook: string };
  constructor(readonly cloud: Cloud) {
    this.dir = path.join(runDir, cloud);
    this.disk = path.join(this.dir, "data.raw");
  }

  async prepare(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    this.ud = await renderCloudUserData(this.cloud, images);
    pushNamedImages(this.ud.userData, this.cloud);
    fs.writeFileSync(path.join(this.dir, "product-user-data"), this.ud.userData, { mode: 0o600 });
    this.blankDisk();
    if (this.cloud !== "digitalocean") {
      // The region and project the suite's mocks answer with: the AWS signature's scope
      // and the GCP secret's path must name them.
      const api = this.cloud === "aws" ? awsStandIn({ region: MOCK_AWS_REGION, secrets: this.ud.secrets }) : gcpStandIn({ project: MOCK_GCP_PROJECT, secrets: this.ud.secrets });
      const server = http.createServer(api.handler);
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      this.standIn = { server, port: (server.address() as AddressInfo).port, seen: api.seen, boothook: cloudApiBoothook(this.cloud, GUEST_CLOUD_API.ip) };
    }
  }

  /** A blank volume, as each cloud creates it. */
  blankDisk(): void {
    fs.writeFileSync(this.disk, "");
    fs.truncateSync(this.disk, DATA_DISK_BYTES);
  }

  /**
   * A boot step, run again once if the guest kernel panicked (retryOnPanic): powered off
   * first, and for a first boot on a blank volume again, so what it checks is unchanged.
   */
  retryOnPanic<T>(what: string, first: boolean, step: () => Promise<T>): Promise<T> {
    return retryOnPanic(`${this.cloud}: ${what}`, step, async () => {
      await this.stop();
      if (first) this.blankDisk();
    });
  }

  /** Powers on a VM: a new root overlay and instance id (a replaced VM), or the same one (a reboot). */
  boot(kind: "new" | "same"): Vm {
    if (kind === "new") {
      this.boots += 1;
      const bootDir = path.join(this.dir, `vm-${this.boots}`);
      fs.mkdirSync(bootDir, { recursive: true });
      const overlay = newOverlay(imageDir, path.join(bootDir, "root.qcow2"));
      const hooks = this.standIn ? [this.standIn.boothook] : [];
      const seed = writeSeed(path.join(bootDir, "seed"), this.ud.userData, `i-vm-suite-${this.cloud}-${this.boots}`, `vm-${this.cloud}-${this.boots}`, hooks);
      const vmPorts = this.standIn ? { ...ports, cloudApi: this.standIn.port } : ports;
      this.vm = new Vm({ name: `${this.cloud} VM ${this.boots}`, dir: bootDir, imageDir, overlay, seed, disk: { file: this.disk, cloud: this.cloud, name: this.ud.diskName }, ports: vmPorts });
      vms.push(this.vm);
    }
    this.vm.start();
    return this.vm;
  }

  /**
   * Healthy by the guest's own view (stack unit active; the container's health check passed,
   * or the same /readyz request, made by the reporter, answers ready) and through Caddy from here.
   */
  async healthy(timeoutMs: number): Promise<Record<string, string>> {
    const state = await waitState(this.vm, "the stack to be healthy", (s) => s.stack === "active" && (s.health === "healthy" || s.ready === "yes"), timeoutMs);
    await healthzThroughCaddy(this.vm, ports.https, 5 * MIN);
    return state;
  }

  async client(name: string, since?: number): Promise<Client> {
    const c = await connect(this.vm, ports.https, this.ud.token, name, since);
    open.push(c);
    return c;
  }

  /**
   * Powers off whatever is still running once this cloud's tests end, passed or failed: a
   * VM left up holds the loopback 443 forward, and the next cloud's qemu could not start.
   */
  async stop(): Promise<void> {
    if (this.vm?.running) await this.vm.waitForExit(1);
  }

  /** After the cloud's last test: the stand-in closes too. */
  async end(): Promise<void> {
    await this.stop();
    await new Promise<void>((r) => (this.standIn ? this.standIn.server.close(() => r()) : r()));
  }

  async acpiShutdown(): Promise<void> {
    await this.vm.acpiShutdown();
    const how = await this.vm.waitForExit(SHUTDOWN_MS);
    if (how !== "off") throw new Error(`${this.vm.opts.name} did not power off within ${seconds(SHUTDOWN_MS)} of the ACPI power button; killed it`);
  }
}

/** cloud-init finished: its status and `status --long` as the guest reported them. */
async function cloudInitResult(vm: Vm): Promise<{ status: string; long: string }> {
  const s = await waitState(vm, "cloud-init to finish", (st) => ["done", "error", "degraded"].includes(st.ci ?? ""), 10 * MIN);
  await waitState(vm, "cloud-init's --long report", () => lines(vm, "VMCI").length > 0, MIN);
  return { status: s.ci!, long: lines(vm, "VMCI").join("\n") };
}

function byIdLinks(vm: Vm): string[] {
  return lines(vm, "VMBYID").map((l) => l.replace(/.* (\S+) -> .*$/, "$1"));
}

/** Sends transactions from one client, in order, and records each acknowledged one. */
async function write(c: Client, prefix: string, n: number, acked: Map<string, number>): Promise<Msg[]> {
  const acks = [];
  for (let i = 0; i < n; i++) {
    const uid = `${prefix}-${i}`;
    const ack = await c.transact(uid, [{ "block/uid": uid, "block/string": `written by the VM suite (${prefix})` }]);
    expect(ack.type).toBe("ack");
    acked.set(uid, ack.t as number);
    acks.push(ack);
  }
  return acks;
}

/** The client's close, or a clear failure when the VM never drains it (bounded, unlike `closed`). */
function closedWithin(c: Client, ms: number): Promise<{ code: number; reason: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no close within ${seconds(ms)} of the power button: did the guest handle it? (logind needs dbus)`)), ms);
  });
  return Promise.race([c.closed, timeout]).finally(() => clearTimeout(timer));
}

function uids(view: string[]): Set<string> {
  return new Set(view.map((f) => JSON.parse(f) as [number, string, string]).filter(([, a]) => a === "block/uid").map(([, , v]) => v));
}

const suiteStart = Date.now();

beforeAll(async () => {
  fs.mkdirSync(runDir, { recursive: true });
  log(`run directory (logs, disks): ${runDir}`);
  if (await portOpen(ports.https)) throw new Error(`127.0.0.1:${ports.https} is taken; set VM_HTTPS_PORT to a free port`);
  if (!(await portOpen(ports.registry))) throw new Error(`no registry on 127.0.0.1:${ports.registry}; run the suite with \`npm run test:vm\``);
});

afterEach(() => {
  for (const c of open.splice(0)) c.ws.terminate();
});

afterAll(async () => {
  for (const vm of vms) if (vm.running) await vm.waitForExit(1);
  await apt.stop();
  log(`durations: ${times.map(([s, ms]) => `${s} ${seconds(ms)}`).join("; ")}; boots total ${seconds(Date.now() - suiteStart)}`);
});

describeIf("aws")("AWS: first boot with the apt cache down, ACPI shutdown, growth, replacement, reboot", () => {
  const aws = new CloudVm("aws");
  const acked = new Map<string, number>();
  let firstBytes = 0;
  let before: ReturnType<typeof superblock>;
  let since = 0;
  let sawAptFailure = false;

  beforeAll(async () => {
    await aws.prepare();
  });
  afterAll(() => aws.end());

  test("first boot: the apt cache is down for the first minutes; the boot recovers by itself, with no reboot", async () => {
    await aws.retryOnPanic("first boot", true, firstBoot);
  });

  async function firstBoot(): Promise<void> {
    await apt.stop();
    sawAptFailure = false;
    const vm = aws.boot("new");
    // Keep the cache down until the guest's apt has failed against it (or 8 minutes), then one more minute.
    const deadline = Date.now() + 8 * MIN;
    while (Date.now() < deadline && vm.running) {
      failOnPanic(vm, "apt to fail against the stopped cache");
      const text = fs.readFileSync(vm.console, "utf8");
      // Ign: apt could not fetch an index and retries (Acquire::Retries); Err: it gave up.
      if (/(Ign:\d+|Err:\d+|Failed to fetch|Could not connect to|Unable to connect to)[^\n]*10\.0\.2\.100/.test(text)) {
        sawAptFailure = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
    log(`aws: apt failed against the stopped cache after ${seconds(Date.now() - vm.startedAt)}: ${sawAptFailure}`);
    await new Promise((r) => setTimeout(r, MIN));
    await apt.start();
    log(`aws: apt cache back at ${seconds(Date.now() - vm.startedAt)} after power-on`);
    const state = await aws.healthy(FIRST_BOOT_MS);
    timed("aws first boot to healthy (apt cache down at start)", Date.now() - vm.startedAt);
    firstBytes = Number(state.fsbytes);
    expect(sawAptFailure).toBe(true);
    // The server's env file came from Secrets Manager, with a request AWS's own signer
    // verifies (SigV4, the role's IMDSv2 credentials); the user data held no secret.
    const fetches = aws.standIn!.seen.filter((l) => l.startsWith("SM "));
    log(`aws: the stand-in saw ${aws.standIn!.seen.length} requests: ${[...new Set(aws.standIn!.seen)].join("; ")}`);
    expect(fetches).toContain(`SM secretsmanager.GetSecretValue ${Object.keys(aws.ud.secrets)[0]} ok`);
    expect(fetches.filter((l) => !l.endsWith(" ok"))).toEqual([]);
    // -no-reboot: a guest reboot would have ended qemu; this is still the first power-on.
    expect(vm.running).toBe(true);
    expect(vm.reportLines().filter((l) => /Linux version \d/.test(l)).length).toBe(1);
  }

  test("first boot: cloud-init done without errors; the EBS NVMe volume found by its by-id path, formatted once, mounted", async () => {
    const vm = aws.vm;
    const ci = await cloudInitResult(vm);
    expect({ status: ci.status, long: ci.long }).toEqual({ status: "done", long: expect.any(String) });
    const link = `nvme-Amazon_Elastic_Block_Store_${aws.ud.diskName.replace("-", "")}`;
    expect(byIdLinks(vm)).toContain(link);
    const volume = volumeLog(vm);
    expect(volume).toContainEqual(expect.stringMatching(new RegExp(`^data volume is /dev/disk/by-id/${link} \\(/dev/nvme0n1\\)$`)));
    expect(volume.filter((l) => /creating ext4/.test(l))).toHaveLength(1);
    expect(vm.state()!.mount).toBe("/dev/nvme0n1");
    const migrated = (await serverLogOnceListening(vm)).filter((m) => m.msg === "migrations applied");
    expect(migrated).toEqual([expect.objectContaining({ from: 0, to: MIGRATIONS.length })]);
  });

  test("a wss:// client from the host, through Caddy (tls internal): welcome, then ack and the broadcast", async () => {
    const alice = await aws.client("alice");
    expect(alice.messages[0]).toMatchObject({ type: "welcome", name: "alice" });
    const bob = await aws.client("bob");
    const ack = await alice.transact("aws-first", [{ ":db/id": -1, "block/uid": "aws-first", "node/title": "VM suite" }]);
    expect(ack).toMatchObject({ type: "ack", id: "aws-first" });
    acked.set("aws-first", ack.t);
    const seen = await bob.next((m) => m.type === "tx" && m.t === ack.t, 30_000);
    expect(seen.datoms).toContainEqual([ack.tempids["-1"], "node/title", "VM suite", ack.t, true]);
    expect(seen.author).toBe("alice");
    await write(alice, "aws-a", 20, acked);
  });

  test("ACPI shutdown drains the stack: connected clients see 1012, the VM powers off cleanly", async () => {
    const reader = await aws.client("reader");
    const writer = await aws.client("writer");
    await write(writer, "aws-b", 10, acked);
    await reader.next((m) => m.type === "tx" && m.t === acked.get("aws-b-9"), 30_000);
    // Keep writing while the power button is pressed: whatever is acknowledged must survive.
    let n = 0;
    // Bounded: at most 5000 transactions, one in flight at a time, until the socket closes.
    writer.ws.on("message", (d) => {
      const m = JSON.parse(d.toString());
      if (m.type === "ack") acked.set(m.id, m.t);
      if (m.type === "ack" && n < 5000 && writer.ws.readyState === 1) writer.send({ type: "transact", id: `aws-c-${n}`, tx: [{ "block/uid": `aws-c-${n++}` }] });
    });
    writer.send({ type: "transact", id: `aws-c-${n}`, tx: [{ "block/uid": `aws-c-${n++}` }] });
    const started = Date.now();
    await aws.vm.acpiShutdown();
    expect((await closedWithin(reader, SHUTDOWN_MS)).code).toBe(1012);
    expect((await closedWithin(writer, SHUTDOWN_MS)).code).toBe(1012);
    timed("aws ACPI power button to 1012", Date.now() - started);
    since = lastT(reader);
    expect(await aws.vm.waitForExit(SHUTDOWN_MS)).toBe("off");
    timed("aws ACPI power button to power-off", Date.now() - started);
    log(`aws: ${acked.size} acknowledged transactions before power-off; reader at t=${since}`);
  });

  test("replacement: a new root overlay boots with the same (enlarged) data disk; not reformatted; every acknowledged tx; resume from since", async () => {
    before = superblock(aws.disk);
    expect(before.uuid).toMatch(/^[0-9a-f-]{36}$/);
    // Growth: the cloud enlarges the volume between boots.
    execFileSync("qemu-img", ["resize", "-q", "-f", "raw", aws.disk, String(DATA_DISK_BYTES + GROW_BYTES)]);
    const vm = await aws.retryOnPanic("replacement boot", false, async () => {
      const booted = aws.boot("new");
      await aws.healthy(NEXT_BOOT_MS);
      return booted;
    });
    timed("aws replacement boot to healthy", Date.now() - vm.startedAt);
    const ci = await cloudInitResult(vm);
    expect(ci.status).toBe("done");
    const volume = volumeLog(vm);
    expect(volume.filter((l) => /creating ext4/.test(l))).toEqual([]);
    expect(volume).toContainEqual(expect.stringMatching(/^existing filesystem on \/dev\/nvme0n1: keeping it$/));
    // The server opened the existing db: the migrations found it current, and it loaded every tx.
    const server = await serverLogOnceListening(vm);
    expect(server.filter((m) => m.msg === "migrations applied")).toEqual([]);
    const maxT = Math.max(...acked.values());
    expect(server.find((m) => m.msg === "db loaded")?.t).toBeGreaterThanOrEqual(maxT);

    const fresh = await aws.client("auditor");
    const present = uids(clientView(fresh.messages));
    expect([...acked.keys()].filter((uid) => !present.has(uid))).toEqual([]);

    const writer = await aws.client("writer");
    const after = await write(writer, "aws-after", 3, acked);
    const back = await aws.client("reader", since);
    expect(back.messages.some((m) => m.type === "snapshot")).toBe(false);
    const expected = [...acked.values()].filter((t) => t > since).sort((a, b) => a - b);
    await back.next((m) => m.type === "tx" && m.t === after.at(-1)!.t, 30_000);
    // Every acknowledged tx after since, in order, none twice, none at or before since. (A tx
    // committed while the power button was pressed may have lost only its ack: it may be here too.)
    const got = back.messages.filter((m) => m.type === "tx").map((m) => m.t as number);
    expect(got).toEqual(expect.arrayContaining(expected));
    expect(got).toEqual([...new Set(got)].sort((a, b) => a - b));
    expect(got.every((t) => t > since)).toBe(true);
  });

  test("growth: the data disk was enlarged by 2 GiB between boots, and the filesystem grew with it", () => {
    const grown = Number(aws.vm.state()!.fsbytes);
    log(`aws: filesystem ${firstBytes} bytes at first boot, ${grown} after the disk grew by ${GROW_BYTES}`);
    expect(grown - firstBytes).toBeGreaterThan(GROW_BYTES * 0.9);
  });

  test("reboot: the same VM powers off and on again, and the stack comes back by itself", async () => {
    const c = await aws.client("before-reboot");
    await aws.acpiShutdown();
    expect((await closedWithin(c, SHUTDOWN_MS)).code).toBe(1012);
    const vm = await aws.retryOnPanic("reboot", false, async () => {
      const booted = aws.boot("same");
      await aws.healthy(NEXT_BOOT_MS);
      return booted;
    });
    timed("aws reboot to healthy", Date.now() - vm.startedAt);
    expect(volumeLog(vm).filter((l) => /creating ext4/.test(l))).toEqual([]);
    const present = uids(clientView((await aws.client("auditor")).messages));
    expect([...acked.keys()].filter((uid) => !present.has(uid))).toEqual([]);
    await aws.acpiShutdown();
    // On the host, with the VM off: the same filesystem (never recreated), now larger.
    const now = superblock(aws.disk);
    expect({ uuid: now.uuid, created: now.created }).toEqual({ uuid: before.uuid, created: before.created });
    expect(now.blocks * now.blockSize).toBeGreaterThan(before.blocks * before.blockSize + GROW_BYTES * 0.9);
  });
});

describe.each([
  ["digitalocean", (name: string) => `scsi-0DO_Volume_${name}`, "/dev/sda"],
  ["gcp", (name: string) => `google-${name}`, "/dev/sda"],
] as const)("%s: first boot of its own user data", (cloud, linkOf, dev) => {
  if (!CLOUDS.has(cloud)) {
    test.skip(`not in VM_CLOUDS (${[...CLOUDS].join(",")})`, () => undefined);
    return;
  }
  const c = new CloudVm(cloud);
  beforeAll(async () => {
    await apt.start();
    await c.prepare();
  });
  afterAll(() => c.end());

  /** The whole first boot to a healthy stack, so that a guest kernel panic anywhere in it boots again (once). */
  async function firstBoot(): Promise<Vm> {
    const vm = c.boot("new");
    // The reporter relays the script's log lines on its own rounds, and journald may be
    // behind the mount itself: wait for the script's last line too.
    await waitState(vm, "the data volume mounted, and the volume script's last line", (s) => s.mount !== "none" && volumeLog(vm).some((l) => /^mounted /.test(l)), FIRST_BOOT_MS);
    await c.healthy(FIRST_BOOT_MS);
    timed(`${cloud} first boot to healthy`, Date.now() - vm.startedAt);
    return vm;
  }

  test("the data disk is found by the cloud's own by-id path, formatted once and mounted", async () => {
    const vm = await c.retryOnPanic("first boot", true, firstBoot);
    const link = linkOf(c.ud.diskName);
    const volume = volumeLog(vm);
    expect(volume).toContainEqual(expect.stringMatching(new RegExp(`^data volume is /dev/disk/by-id/${link} \\(${dev}\\)$`)));
    expect(volume.filter((l) => /creating ext4/.test(l))).toHaveLength(1);
    expect(vm.state()!.mount).toBe(dev);
  });

  test("cloud-init done without errors; the stack healthy; a wss:// client gets welcome, ack and broadcast; ACPI shutdown gives 1012", async () => {
    const vm = c.vm;
    await c.healthy(FIRST_BOOT_MS);
    expect((await cloudInitResult(vm)).status).toBe("done");
    expect(byIdLinks(vm)).toContain(linkOf(c.ud.diskName));
    const alice = await c.client("alice");
    expect(alice.messages[0]).toMatchObject({ type: "welcome" });
    const bob = await c.client("bob");
    const ack = await alice.transact(`${cloud}-1`, [{ "block/uid": `${cloud}-1` }]);
    expect(ack.type).toBe("ack");
    await bob.next((m) => m.type === "tx" && m.t === ack.t, 30_000);
    await c.vm.acpiShutdown();
    expect((await closedWithin(bob, SHUTDOWN_MS)).code).toBe(1012);
    expect(await c.vm.waitForExit(SHUTDOWN_MS)).toBe("off");
  });

  if (cloud === "gcp") {
    test("the secrets came from Secret Manager and the registry login's token from the metadata server (the stand-in), so the metadata carries no secret", () => {
      const seen = c.standIn!.seen;
      log(`gcp: the stand-in saw ${seen.length} requests: ${[...new Set(seen)].join("; ")}`);
      expect(seen).toContain(`SM ${Object.keys(c.ud.secrets)[0]} ok`);
      // One token for the secret fetch, one for the registry login (docker login before the pull).
      expect(seen.filter((l) => l === "MD token").length).toBeGreaterThanOrEqual(2);
      expect(seen.filter((l) => !/^(MD token|SM \S+ ok)$/.test(l))).toEqual([]);
      expect(c.ud.userData).not.toContain(c.ud.token);
    });
  }
});
