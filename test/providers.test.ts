import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse } from "yaml";
import { byType, isSecret, isSecretInput, plain, runProgram, type Captured } from "./mocks";

const DO_TOKEN = "dop_v1_" + "f".repeat(64);
const CONFIGS: Record<string, Record<string, string>> = {
  aws: { provider: "aws" },
  digitalocean: { provider: "digitalocean", doSnapshotToken: DO_TOKEN },
  gcp: { provider: "gcp", region: "us-central1" },
  docker: { provider: "docker" },
};

const one = (resources: Captured[], type: string) => {
  const found = byType(resources, type);
  expect(found).toHaveLength(1);
  return found[0]!;
};
const userDataOf = (r: Captured): string => plain<string>(r.inputs.userData ?? plain<Record<string, unknown>>(r.inputs.metadata)["user-data"]);

describe("digitalocean", () => {
  let run: Awaited<ReturnType<typeof runProgram>>;
  beforeAll(async () => {
    run = await runProgram(CONFIGS.digitalocean!, "do-prod");
  });

  test("the volume is protected, retained, attached through the Droplet, and found by its scsi-0DO_Volume path", () => {
    const volume = one(run.resources, "digitalocean:index/volume:Volume");
    expect(volume.opts).toMatchObject({ protect: true, retainOnDelete: true });
    // ForceNew, not Computed, and filled by the provider's Read from the API (resource_volume.go):
    // without these, a refresh after the boot script's mkfs plans to replace the data volume.
    expect(volume.opts.ignoreChanges).toEqual(expect.arrayContaining(["initialFilesystemType", "initialFilesystemLabel"]));
    expect(volume.inputs.initialFilesystemType).toBeUndefined();
    expect(volume.inputs).toMatchObject({ name: "do-prod-sync-data", size: 20, region: "nyc3" });
    // No VolumeAttachment: its delete detaches from a running Droplet.
    expect(byType(run.resources, "digitalocean:index/volumeAttachment:VolumeAttachment")).toEqual([]);
    const droplet = one(run.resources, "digitalocean:index/droplet:Droplet");
    expect(droplet.inputs).toMatchObject({ volumeIds: ["sync-data-id"], gracefulShutdown: true, name: "do-prod-sync-vm" });
    // The provider's delete timeout (60 s) would cut the shutdown short.
    expect(droplet.opts.customTimeouts).toMatchObject({ delete: "10m" });
    expect(userDataOf(droplet)).toContain("DEVICES='/dev/disk/by-id/scsi-0DO_Volume_do-prod-sync-data'");
    expect(droplet.inputs.image).toBe("debian-13-x64");
  });

  test("the snapshot timer exists with the configured retention, and its token is secret", () => {
    const droplet = one(run.resources, "digitalocean:index/droplet:Droplet");
    expect(isSecretInput(droplet.inputs.userData)).toBe(true);
    const doc = parse(userDataOf(droplet));
    const file = (p: string) => doc.write_files.find((f: { path: string }) => f.path === p);
    expect(file("/etc/sync/do-snapshot.env").content).toContain(`DO_TOKEN='${DO_TOKEN}'\nVOLUME_ID='sync-data-id'\nRETAIN=7\n`);
    expect(file("/etc/sync/do-snapshot.env").permissions).toBe("0600");
    expect(file("/etc/systemd/system/sync-snapshot.timer").content).toMatch(/OnCalendar=\*-\*-\* 03:00:00/);
    expect(doc.runcmd.find((c: string[]) => c[1] === "enable")).toContain("sync-snapshot.timer");
    expect(file("/usr/local/sbin/sync-install").content).toMatch(/for p in .* jq/);
  });

  test("the firewall follows the stack's tag (a replacement Droplet is covered at once), TCP 80/443 only; reserved IP is assigned", () => {
    const fw = one(run.resources, "digitalocean:index/firewall:Firewall");
    expect(fw.inputs.inboundRules.map((r: { protocol: string; portRange: string }) => `${r.protocol}/${r.portRange}`).sort()).toEqual(["tcp/443", "tcp/80"]);
    expect(fw.inputs.dropletIds).toBeUndefined();
    expect(fw.inputs.tags).toEqual(["do-prod-sync"]);
    expect(one(run.resources, "digitalocean:index/droplet:Droplet").inputs.tags).toEqual(["do-prod-sync"]);
    expect(one(run.resources, "digitalocean:index/reservedIpAssignment:ReservedIpAssignment").inputs.ipAddress).toBe("203.0.113.10");
  });

  test("image pushed to DOCR and referenced by digest; pulls use read-only credentials", () => {
    expect(run.resolved.image).toMatch(/^registry\.digitalocean\.com\/do-prod-sync\/do-prod-sync-server@sha256:[0-9a-f]{64}$/);
    const creds = byType(run.resources, "digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials");
    expect(creds.map((c) => c.inputs.write).sort()).toEqual([false, true]);
    expect(userDataOf(one(run.resources, "digitalocean:index/droplet:Droplet"))).toContain(`image: ${run.resolved.image}`);
  });

  test("DNS only with a zone", async () => {
    expect(byType(run.resources, "digitalocean:index/dnsRecord:DnsRecord")).toEqual([]);
    const zoned = await runProgram({ ...CONFIGS.digitalocean!, dnsZone: "example.com", domain: "sync.example.com" }, "do-prod");
    expect(one(zoned.resources, "digitalocean:index/dnsRecord:DnsRecord").inputs).toMatchObject({ domain: "example.com", name: "sync", type: "A", value: "203.0.113.10" });
  });
});

describe("gcp", () => {
  let run: Awaited<ReturnType<typeof runProgram>>;
  beforeAll(async () => {
    run = await runProgram(CONFIGS.gcp!, "gcp-prod");
  });

  test("the disk is pd-balanced, protected, retained, attached by device name, and found by that name", () => {
    const disk = one(run.resources, "gcp:compute/disk:Disk");
    expect(disk.inputs).toMatchObject({ type: "pd-balanced", size: 20, zone: "us-central1-a" });
    expect(disk.opts).toMatchObject({ protect: true, retainOnDelete: true });
    const vm = one(run.resources, "gcp:compute/instance:Instance");
    expect(vm.inputs.attachedDisks).toEqual([{ source: "sync-data-id", deviceName: "sync-data", mode: "READ_WRITE" }]);
    expect(vm.opts.deleteBeforeReplace).toBe(true);
    expect(userDataOf(vm)).toContain("DEVICES='/dev/disk/by-id/google-sync-data'");
    expect(vm.inputs.bootDisk.initializeParams.image).toBe("debian-cloud/debian-13");
    expect(vm.inputs.metadataStartupScript).toMatch(/apt-get .* install -y cloud-init/);
  });

  test("with no zone set, the region's -a zone, or -b in the two regions without an -a", async () => {
    // us-east1 and europe-west1 have zones b, c and d only (cloud.google.com/compute/docs/regions-zones).
    for (const [region, zone] of [["us-east1", "us-east1-b"], ["europe-west1", "europe-west1-b"], ["europe-west4", "europe-west4-a"]] as const) {
      const other = await runProgram({ ...CONFIGS.gcp!, region }, "gcp-prod");
      expect([region, one(other.resources, "gcp:compute/disk:Disk").inputs.zone]).toEqual([region, zone]);
    }
    const chosen = await runProgram({ ...CONFIGS.gcp!, region: "europe-west1", zone: "europe-west1-d" }, "gcp-prod");
    expect(one(chosen.resources, "gcp:compute/disk:Disk").inputs.zone).toBe("europe-west1-d");
  });

  test("a snapshot schedule with retention is attached to the disk", () => {
    const policy = one(run.resources, "gcp:compute/resourcePolicy:ResourcePolicy");
    expect(policy.inputs.snapshotSchedulePolicy.retentionPolicy).toMatchObject({ maxRetentionDays: 7, onSourceDiskDelete: "KEEP_AUTO_SNAPSHOTS" });
    expect(policy.inputs.snapshotSchedulePolicy.schedule.dailySchedule).toMatchObject({ daysInCycle: 1 });
    // The provider's schema (ResourcePolicySnapshotSchedulePolicyScheduleDailySchedule.startTime):
    // "must be in UTC format that resolves to one of 00:00, 04:00, 08:00, 12:00, 16:00, or 20:00".
    expect(["00:00", "04:00", "08:00", "12:00", "16:00", "20:00"]).toContain(policy.inputs.snapshotSchedulePolicy.schedule.dailySchedule.startTime);
    const attach = one(run.resources, "gcp:compute/diskResourcePolicyAttachment:DiskResourcePolicyAttachment");
    expect(attach.inputs).toMatchObject({ disk: "gcp-prod-sync-data", name: "gcp-prod-sync-snapshots", zone: "us-central1-a" });
  });

  test("22 is denied by default (the default network allows it from anywhere); 80/443 open", () => {
    const rules = byType(run.resources, "gcp:compute/firewall:Firewall");
    const allows22 = rules.filter((r) => (r.inputs.allows ?? []).some((a: { ports: string[] }) => a.ports.includes("22")));
    // Only IAP's range (the documented shell), above the deny.
    expect(allows22.map((r) => r.inputs.sourceRanges)).toEqual([["35.235.240.0/20"]]);
    expect(allows22[0]!.inputs.priority).toBeLessThan(1000);
    expect(rules.every((r) => !(r.inputs.allows ?? []).some((a: { protocol: string }) => a.protocol === "udp"))).toBe(true);
    const deny = rules.find((r) => (r.inputs.denies ?? []).some((a: { ports: string[] }) => a.ports.includes("22")))!;
    expect(deny.inputs.priority).toBeLessThan(65534);
    expect(rules.some((r) => (r.inputs.allows ?? []).some((a: { ports: string[] }) => a.ports.includes("443")))).toBe(true);
  });

  test("image in Artifact Registry by digest; the VM's service account may pull", () => {
    expect(run.resolved.image).toMatch(/^us-central1-docker\.pkg\.dev\/proj\/gcp-prod-sync\/sync-server@sha256:/);
    expect(one(run.resources, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember").inputs).toMatchObject({ role: "roles/artifactregistry.reader", member: "serviceAccount:gcp-prod-sync-vm@proj.iam.gserviceaccount.com" });
  });

  test("DNS only with a zone, SSH allowed only from configured CIDRs", async () => {
    expect(byType(run.resources, "gcp:dns/recordSet:RecordSet")).toEqual([]);
    const zoned = await runProgram({ ...CONFIGS.gcp!, dnsZone: "prod-zone", domain: "sync.example.com", sshCidrs: '["198.51.100.0/24"]' }, "gcp-prod");
    expect(one(zoned.resources, "gcp:dns/recordSet:RecordSet").inputs).toMatchObject({ managedZone: "prod-zone", name: "sync.example.com.", rrdatas: ["203.0.113.10"] });
    const ssh = byType(zoned.resources, "gcp:compute/firewall:Firewall").filter((r) => (r.inputs.allows ?? []).some((a: { ports: string[] }) => a.ports.includes("22")));
    expect(ssh.map((r) => r.inputs.sourceRanges).sort()).toEqual([["198.51.100.0/24"], ["35.235.240.0/20"]]);
  });
});

describe("docker (local)", () => {
  let run: Awaited<ReturnType<typeof runProgram>>;
  beforeAll(async () => {
    run = await runProgram({ ...CONFIGS.docker!, httpsPort: "8443", httpPort: "8080" }, "local");
  });

  test("named volumes for data, backups and Caddy, retained", () => {
    const volumes = byType(run.resources, "docker:index/volume:Volume");
    expect(volumes.map((v) => v.inputs.name).sort()).toEqual(["local-sync-backups", "local-sync-caddy", "local-sync-data"]);
    for (const v of volumes) expect(v.opts).toMatchObject({ retainOnDelete: true, protect: true });
  });

  test("server and Caddy containers from the same compose service definitions", () => {
    const containers = byType(run.resources, "docker:index/container:Container");
    const server = containers.find((c) => c.name === "sync-server")!;
    const caddy = containers.find((c) => c.name === "sync-caddy")!;
    expect(server.inputs.image).toMatch(/@sha256:/);
    expect(server.inputs.volumes).toEqual([
      { volumeName: "local-sync-data", containerPath: "/data", readOnly: false },
      { volumeName: "local-sync-backups", containerPath: "/data/backups", readOnly: false },
    ]);
    expect(isSecretInput(server.inputs.envs)).toBe(true);
    expect(plain(server.inputs.envs)).toEqual(expect.arrayContaining(["SYNC_BACKUP_INTERVAL=6h", expect.stringMatching(/^SYNC_TOKEN=t{48}$/)]));
    expect(server.inputs).toMatchObject({ restart: "unless-stopped", stopSignal: "SIGTERM", stopTimeout: 30 });
    expect(server.inputs.healthcheck.tests.join(" ")).toMatch(/readyz/);
    expect(caddy.inputs.ports).toEqual([{ internal: 80, external: 8080 }, { internal: 443, external: 8443 }]);
    expect(caddy.inputs.uploads[0].content).toMatch(/^localhost \{\n\ttls internal/m);
    // The published port is 8443: the HTTP→HTTPS redirect names it.
    expect(caddy.inputs.uploads[0].content).toContain("redir https://{host}:8443{uri} 308");
    for (const c of [server, caddy]) {
      expect(c.inputs).toMatchObject({ readOnly: true, securityOpts: ["no-new-privileges:true"] });
      expect(c.inputs.capabilities.drops).toEqual(["ALL"]);
      expect(c.inputs.memory).toBeGreaterThan(0);
    }
    expect(caddy.inputs.capabilities.adds).toEqual(["NET_BIND_SERVICE"]);
    expect(run.resolved.url).toBe("wss://localhost:8443/ws");
  });

  test("the token is secret", async () => {
    expect(await isSecret(run.outputs.token as never)).toBe(true);
  });
});

test("all four stacks run in one process, each with its expected resource set", async () => {
  const expected: Record<string, string[]> = {
    aws: ["aws:ebs/volume:Volume", "aws:ec2/instance:Instance", "aws:ec2/volumeAttachment:VolumeAttachment", "aws:ec2/eip:Eip", "aws:ec2/securityGroup:SecurityGroup", "aws:dlm/lifecyclePolicy:LifecyclePolicy", "aws:ecr/repository:Repository", "docker:index/image:Image", "random:index/randomPassword:RandomPassword"],
    digitalocean: ["digitalocean:index/volume:Volume", "digitalocean:index/droplet:Droplet", "digitalocean:index/reservedIp:ReservedIp", "digitalocean:index/firewall:Firewall", "digitalocean:index/containerRegistry:ContainerRegistry", "docker:index/image:Image", "random:index/randomPassword:RandomPassword"],
    gcp: ["gcp:compute/disk:Disk", "gcp:compute/instance:Instance", "gcp:compute/address:Address", "gcp:compute/firewall:Firewall", "gcp:compute/resourcePolicy:ResourcePolicy", "gcp:artifactregistry/repository:Repository", "docker:index/image:Image", "random:index/randomPassword:RandomPassword"],
    docker: ["docker:index/volume:Volume", "docker:index/container:Container", "docker:index/network:Network", "docker:index/image:Image", "random:index/randomPassword:RandomPassword"],
  };
  const dataVolume: Record<string, string> = { aws: "aws:ebs/volume:Volume", digitalocean: "digitalocean:index/volume:Volume", gcp: "gcp:compute/disk:Disk", docker: "docker:index/volume:Volume" };
  const clouds = ["aws", "digitalocean", "gcp"];
  for (const [provider, config] of Object.entries(CONFIGS)) {
    const run = await runProgram(config, `${provider}-all`);
    const types = new Set(run.resources.map((r) => r.type));
    for (const type of expected[provider]!) expect([provider, types.has(type)]).toEqual([provider, true]);
    // No provider's resources leak into another's stack.
    for (const other of clouds.filter((c) => c !== provider)) expect([...types].filter((t) => t.startsWith(`${other}:`))).toEqual([]);
    // Invariant for every stack: the data volume is protected and retained on delete.
    const volumes = byType(run.resources, dataVolume[provider]!);
    expect(volumes.length).toBeGreaterThan(0);
    for (const v of volumes) expect([provider, v.opts.protect, v.opts.retainOnDelete]).toEqual([provider, true, true]);
    expect(run.resolved.url).toMatch(/^wss:\/\/.+\/ws$/);
    expect(await isSecret(run.outputs.token as never)).toBe(true);
  }
});

test.each(Object.keys(CONFIGS))("%s: the operator's outputs, and an admin token of its own, secret, in the server's environment", async (provider) => {
  const run = await runProgram(CONFIGS[provider]!, "ops");
  const r = run.resolved;
  expect(await isSecret(run.outputs.adminToken as never)).toBe(true);
  expect(String(r.adminToken)).toHaveLength(48);
  expect(r.adminToken).not.toBe(r.token);
  const passwords = byType(run.resources, "random:index/randomPassword:RandomPassword").map((p) => p.name).sort();
  expect(passwords).toEqual(["sync-admin-token", "sync-token"]);
  const expected: Record<string, Record<string, unknown>> = {
    aws: { cloud: "aws", region: "us-east-1", instanceId: "sync-vm-id", volumeId: "vol-0123456789abcdef0", snapshotTag: { key: "sync-snapshot", value: "ops-sync" } },
    digitalocean: { cloud: "digitalocean", region: "nyc3", instanceId: "sync-vm-id", volumeId: "sync-data-id", snapshotTag: { key: "sync-snapshot", value: "ops-sync" } },
    gcp: { cloud: "gcp", region: "us-central1", instanceId: "sync-vm-id", volumeId: "sync-data-id", snapshotTag: { key: "sync-snapshot", value: "ops-sync" }, zone: "us-central1-a", project: "proj", instanceName: "ops-sync-vm" },
    docker: { cloud: "docker", region: "local", instanceId: "ops-sync-server", volumeId: "ops-sync-data", snapshotTag: { key: "sync-snapshot", value: "ops-sync" }, container: "ops-sync-server" },
  };
  expect(r).toMatchObject({ ...expected[provider], provider, retainedVolumeIds: [] });
  // Cloud-specific outputs only where the cloud has them (an undefined output would warn on every run).
  for (const key of ["zone", "project", "instanceName", "container"]) expect([key, key in r]).toEqual([key, key in expected[provider]!]);
  if (provider === "docker") {
    const server = byType(run.resources, "docker:index/container:Container").find((c) => c.name === "sync-server")!;
    expect(plain<string[]>(server.inputs.envs)).toContain(`SYNC_ADMIN_TOKEN=${r.adminToken}`);
  }
});

test.each(["aws", "digitalocean", "gcp"])("the %s VM's full user data passes `cloud-init schema`", async (provider) => {
  const run = await runProgram(CONFIGS[provider]!, `${provider}-schema`);
  const vmType = { aws: "aws:ec2/instance:Instance", digitalocean: "digitalocean:index/droplet:Droplet", gcp: "gcp:compute/instance:Instance" }[provider]!;
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "user-data-")), "user-data");
  fs.writeFileSync(file, userDataOf(one(run.resources, vmType)));
  const check = spawnSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8" });
  expect(`${check.stdout}${check.stderr}`).toMatch(/Valid cloud-config/);
  expect(check.status).toBe(0);
});
