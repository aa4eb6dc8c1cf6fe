/**
 * Invariants every cloud stack keeps, checked on the resource graph under mocks. Each
 * resource also passes the providers' preview-time rules (test/provider-rules.ts) inside
 * runProgram.
 */
import { parse } from "yaml";
import { violations } from "./provider-rules";
import { byType, type Captured, isSecretInput, plain, runProgram as runFresh } from "./mocks";

/** One mock run per (config, stack): several tests read the same run. */
const runs = new Map<string, ReturnType<typeof runFresh>>();
function runProgram(config: Record<string, string>, stack: string): ReturnType<typeof runFresh> {
  const key = JSON.stringify([config, stack]);
  if (!runs.has(key)) runs.set(key, runFresh(config, stack));
  return runs.get(key)!;
}

const DO_TOKEN = "dop_v1_" + "f".repeat(64);
const CLOUDS: Record<string, Record<string, string>> = {
  aws: { provider: "aws" },
  digitalocean: { provider: "digitalocean", doSnapshotToken: DO_TOKEN },
  gcp: { provider: "gcp", region: "us-central1" },
};
const VM: Record<string, string> = { aws: "aws:ec2/instance:Instance", digitalocean: "digitalocean:index/droplet:Droplet", gcp: "gcp:compute/instance:Instance" };
const userDataOf = (r: Captured): string => plain<string>(r.inputs.userData ?? plain<Record<string, unknown>>(r.inputs.metadata)["user-data"]);

/**
 * How each cloud's provider takes a data disk away from a VM, and when that is safe
 * (the VM is already stopped, so its stack drained first):
 * - aws VolumeAttachment: detaches on delete; with stop_instance_before_detaching the
 *   provider stops the instance first (terraform-provider-aws internal/service/ec2/ebs_volume_attachment.go).
 * - digitalocean VolumeAttachment: only detaches (terraform-provider-digitalocean
 *   digitalocean/volume/resource_volume_attachment.go): never safe.
 * - digitalocean Droplet volume_ids: on delete the provider shuts the Droplet down when
 *   graceful_shutdown is set, then detaches (digitalocean/droplet/resource_droplet.go
 *   resourceDigitalOceanDropletDelete): safe only with gracefulShutdown.
 * - digitalocean Droplet volume_ids, changed in place (a new volume, e.g. a restore from a
 *   snapshot): the provider attaches the new volume, then detaches the old one from the
 *   running Droplet (resourceDigitalOceanDropletUpdate, `d.HasChange("volume_ids")`): safe only
 *   when a change of volumeIds replaces the Droplet (replaceOnChanges) old one first.
 * - gcp AttachedDisk: detaches from the running instance: never safe.
 * - gcp Instance attachedDisks: deleting the instance stops it first: safe. But a change of
 *   attached_disk in place calls detachDisk on the running instance
 *   (terraform-provider-google google/services/compute/resource_compute_instance.go
 *   resourceComputeInstanceUpdate, `d.HasChange("attached_disk")`): safe only when a
 *   change of attachedDisks replaces the instance (replaceOnChanges), old one first.
 * - aws: VolumeAttachment's volume_id is ForceNew, and its create does not start a stopped
 *   instance (ebs_volume_attachment.go resourceVolumeAttachmentCreate): a new volume must
 *   come with a new instance, which the user data (it names the volume's device) ensures
 *   through userDataReplaceOnChange.
 */
function unsafeDetaches(resources: Captured[]): string[] {
  const out: string[] = [];
  for (const r of byType(resources, "aws:ec2/volumeAttachment:VolumeAttachment")) if (r.inputs.stopInstanceBeforeDetaching !== true) out.push(`${r.name}: detaches without stopping the instance`);
  for (const r of byType(resources, "digitalocean:index/volumeAttachment:VolumeAttachment")) out.push(`${r.name}: a DigitalOcean VolumeAttachment detaches from a running Droplet`);
  for (const r of byType(resources, "gcp:compute/attachedDisk:AttachedDisk")) out.push(`${r.name}: an AttachedDisk detaches from a running instance`);
  for (const r of byType(resources, "digitalocean:index/droplet:Droplet")) if ((r.inputs.volumeIds ?? []).length > 0 && r.inputs.gracefulShutdown !== true) out.push(`${r.name}: volumeIds without gracefulShutdown`);
  for (const r of byType(resources, "digitalocean:index/droplet:Droplet")) {
    if ((r.inputs.volumeIds ?? []).length > 0 && !(r.opts.replaceOnChanges?.includes("volumeIds") && r.opts.deleteBeforeReplace)) out.push(`${r.name}: a new volume in volumeIds would be swapped under the running Droplet`);
  }
  for (const r of byType(resources, "gcp:compute/instance:Instance")) {
    if ((r.inputs.attachedDisks ?? []).length > 0 && !(r.opts.replaceOnChanges?.includes("attachedDisks") && r.opts.deleteBeforeReplace)) out.push(`${r.name}: a new disk in attachedDisks would be detached/attached on the running instance`);
  }
  for (const r of byType(resources, "aws:ec2/volumeAttachment:VolumeAttachment")) {
    const vms = byType(resources, "aws:ec2/instance:Instance");
    const userData = vms.map((vm) => plain<string>(vm.inputs.userData));
    if (!vms.every((vm) => vm.inputs.userDataReplaceOnChange === true) || !userData.some((u) => u.includes(String(r.inputs.volumeId).replace("-", "")))) {
      out.push(`${r.name}: a new volume would leave the instance stopped (its user data does not name the volume, or does not replace the instance)`);
    }
  }
  return out;
}

const RESTORE: Record<string, string> = { aws: "snap-0fedcba9876543210", digitalocean: "506f78a4-e098-11e5-ad9f-000f53306ae1", gcp: "prod-sync-data-20261124" };

describe.each(Object.keys(CLOUDS))("%s", (cloud) => {
  let run: Awaited<ReturnType<typeof runProgram>>;
  beforeAll(async () => {
    run = await runProgram(CLOUDS[cloud]!, "prod");
  });

  test("with a restore from a snapshot in effect, still nothing detaches a disk from a running VM", async () => {
    const restored = await runProgram({ ...CLOUDS[cloud]!, restoreFromSnapshot: RESTORE[cloud]! }, "prod");
    expect(unsafeDetaches(restored.resources)).toEqual([]);
    // A restored DigitalOcean volume reports ext4 from its first Read (components/digitalocean/sync-server.ts, FILESYSTEM_READ_BACK).
    for (const v of byType(restored.resources, "digitalocean:index/volume:Volume")) expect(v.opts.ignoreChanges).toEqual(expect.arrayContaining(["initialFilesystemType", "initialFilesystemLabel"]));
  });

  test("nothing detaches the data disk from a VM that is still running", () => {
    expect(unsafeDetaches(run.resources)).toEqual([]);
    // And the disk is attached by one of the safe paths at all.
    const attached =
      byType(run.resources, "aws:ec2/volumeAttachment:VolumeAttachment").length +
      byType(run.resources, "digitalocean:index/droplet:Droplet").filter((d) => (d.inputs.volumeIds ?? []).length > 0).length +
      byType(run.resources, "gcp:compute/instance:Instance").filter((i) => (i.inputs.attachedDisks ?? []).length > 0).length;
    expect(attached).toBe(1);
  });

  test("the VM pulls only from the stack's registry: the server and Caddy, by digest", () => {
    const doc = parse(userDataOf(byType(run.resources, VM[cloud]!)[0]!));
    const compose = parse(doc.write_files.find((f: { path: string }) => f.path === "/etc/sync/compose.yaml").content);
    const images = Object.values(compose.services as Record<string, { image: string }>).map((s) => s.image);
    const registry = String(run.resolved.image).split("/")[0];
    for (const image of images) {
      expect(image).toMatch(/@sha256:[0-9a-f]{64}$/);
      expect(image.startsWith(`${registry}/`)).toBe(true);
    }
  });

  test("only TCP 80/443 are open to the world (nothing for UDP 443, which nothing publishes)", () => {
    const sg = byType(run.resources, "aws:ec2/securityGroup:SecurityGroup").flatMap((g) => g.inputs.ingress as Array<{ protocol: string; fromPort: number }>).map((r) => `${r.protocol}/${r.fromPort}`);
    const dofw = byType(run.resources, "digitalocean:index/firewall:Firewall").flatMap((f) => f.inputs.inboundRules as Array<{ protocol: string; portRange: string }>).map((r) => `${r.protocol}/${r.portRange}`);
    const gcpfw = byType(run.resources, "gcp:compute/firewall:Firewall")
      .filter((f) => (f.inputs.sourceRanges ?? []).includes("0.0.0.0/0"))
      .flatMap((f) => (f.inputs.allows ?? []) as Array<{ protocol: string; ports: string[] }>)
      .flatMap((a) => a.ports.map((p) => `${a.protocol}/${p}`));
    expect([...sg, ...dofw, ...gcpfw].sort()).toEqual(["tcp/443", "tcp/80"]);
  });

  test("the stack blocks containers from the metadata service, and retries its start for ever", () => {
    const doc = parse(userDataOf(byType(run.resources, VM[cloud]!)[0]!));
    const unit = doc.write_files.find((f: { path: string }) => f.path === "/etc/systemd/system/sync-stack.service").content as string;
    expect(unit).toMatch(/ExecStartPre=\/usr\/local\/sbin\/sync-block-metadata/);
    expect(unit).toMatch(/Restart=on-failure/);
    expect(unit).toMatch(/StartLimitIntervalSec=0/);
  });

  test("no resource uses the default VPC or network", () => {
    const text = JSON.stringify(run.resources.map((r) => r.inputs));
    expect(text).not.toMatch(/"network":"default"/);
    const aws = byType(run.resources, "aws:ec2/instance:Instance");
    for (const vm of aws) expect(vm.inputs.subnetId).toBe("sync-subnet-id");
    for (const d of byType(run.resources, "digitalocean:index/droplet:Droplet")) expect(d.inputs.vpcUuid).toBe("sync-vpc-id");
  });
});

test("two stacks in one account or project share no name, tag or label", async () => {
  const names = (resources: Captured[]) =>
    // Local docker resources (the pulled Caddy) live on the deployer's machine, not in the account.
    resources.filter((r) => !r.type.startsWith("docker:")).flatMap((r) => {
      const i = r.inputs;
      return [i.name, i.accountId, i.repositoryId, r.type.endsWith(":Secret") ? i.secretId : undefined, ...(Object.values(i.tags ?? {}) as unknown[]), ...(Object.values(i.labels ?? {}) as unknown[]), ...Object.values(i.policyDetails?.targetTags ?? {})]
        .filter((v): v is string => typeof v === "string")
        .map((v) => `${r.type} ${v}`);
    });
  for (const [cloud, config] of Object.entries(CLOUDS)) {
    const a = names((await runProgram(config, "prod")).resources);
    const b = names((await runProgram(config, "staging")).resources);
    expect([cloud, a.filter((n) => b.includes(n))]).toEqual([cloud, []]);
  }
});

test("the DLM policy snapshots only its own stack's volume", async () => {
  const run = await runProgram(CLOUDS.aws!, "prod");
  const [policy] = byType(run.resources, "aws:dlm/lifecyclePolicy:LifecyclePolicy");
  expect(policy!.inputs.policyDetails.targetTags).toEqual({ "sync-snapshot": "prod-sync" });
});

test("a long stack name still gives a GCP service account id of at most 30 characters, and distinct ones", async () => {
  const ids = [];
  for (const stack of ["customer-production-europe-west1", "customer-production-europe-west2"]) {
    const run = await runProgram(CLOUDS.gcp!, stack);
    ids.push(byType(run.resources, "gcp:serviceaccount/account:Account")[0]!.inputs.accountId as string);
  }
  for (const id of ids) expect(id.length).toBeLessThanOrEqual(30);
  expect(new Set(ids).size).toBe(2);
});

test("AWS: ECR is deleted with its images on destroy; the VM may pull only from its own repository", async () => {
  const run = await runProgram(CLOUDS.aws!, "prod");
  const [repo] = byType(run.resources, "aws:ecr/repository:Repository");
  expect(repo!.inputs).toMatchObject({ forceDelete: true, name: "prod-sync" });
  const attached = byType(run.resources, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").map((a) => a.inputs.policyArn);
  expect(attached).not.toContain("arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly");
  const policy = JSON.parse(byType(run.resources, "aws:iam/rolePolicy:RolePolicy")[0]!.inputs.policy);
  const pulls = policy.Statement.find((s: { Action: string[] }) => s.Action.includes("ecr:BatchGetImage"));
  expect(pulls.Resource).toBe("arn:aws:ecr:us-east-1:123456789012:repository/prod-sync");
});

test("AWS: an existing subnet is used as is (no VPC created), in its own zone", async () => {
  const run = await runProgram({ ...CLOUDS.aws!, network: "subnet-0abc123" }, "prod");
  expect(byType(run.resources, "aws:ec2/vpc:Vpc")).toEqual([]);
  expect(byType(run.resources, "aws:ec2/instance:Instance")[0]!.inputs).toMatchObject({ subnetId: "subnet-0abc123", availabilityZone: "us-east-1c" });
  expect(byType(run.resources, "aws:ebs/volume:Volume")[0]!.inputs.availabilityZone).toBe("us-east-1c");
  expect(byType(run.resources, "aws:ec2/securityGroup:SecurityGroup")[0]!.inputs.vpcId).toBe("vpc-0existing");
});

test("AWS: the shell is Session Manager, whose agent the VM installs (retried) from AWS's regional bucket", async () => {
  const run = await runProgram(CLOUDS.aws!, "prod");
  const doc = parse(userDataOf(byType(run.resources, VM.aws!)[0]!));
  const script = doc.write_files.find((f: { path: string }) => f.path === "/usr/local/sbin/sync-ssm-agent-install").content as string;
  expect(script).toContain("https://s3.us-east-1.amazonaws.com/amazon-ssm-us-east-1/latest/debian_amd64/amazon-ssm-agent.deb");
  expect(doc.runcmd.find((c: string[]) => c[1] === "enable")).toContain("sync-ssm-agent-install.service");
});

test("DigitalOcean: an existing registry is used, none created; GCP: an existing network is used", async () => {
  const run = await runProgram({ ...CLOUDS.digitalocean!, containerRegistry: "acme" }, "staging");
  expect(byType(run.resources, "digitalocean:index/containerRegistry:ContainerRegistry")).toEqual([]);
  expect(run.resolved.image).toMatch(/^registry\.digitalocean\.com\/acme\/staging-sync-server@sha256:/);
  const gcp = await runProgram({ ...CLOUDS.gcp!, network: "shared-vpc" }, "staging");
  expect(byType(gcp.resources, "gcp:compute/network:Network")).toEqual([]);
  for (const f of byType(gcp.resources, "gcp:compute/firewall:Firewall")) expect(f.inputs.network).toBe("shared-vpc");
});

test("GCP: the instance metadata carries no secret; the VM reads them from Secret Manager", async () => {
  const run = await runProgram(CLOUDS.gcp!, "prod");
  const userData = userDataOf(byType(run.resources, VM.gcp!)[0]!);
  expect(userData).not.toContain(String(run.resolved.token));
  expect(parse(userData).write_files.map((f: { path: string }) => f.path)).not.toContain("/etc/sync/server.env");
  // Not marked secret then: a pull request's preview shows what changed in it.
  const metadata = byType(run.resources, VM.gcp!)[0]!.inputs.metadata;
  expect(isSecretInput(metadata)).toBe(false);
  expect(typeof metadata["user-data"]).toBe("string");
  const [version] = byType(run.resources, "gcp:secretmanager/secretVersion:SecretVersion");
  expect(plain<string>(version!.inputs.secretData)).toContain(`SYNC_TOKEN=${run.resolved.token}`);
  expect(byType(run.resources, "gcp:secretmanager/secretIamMember:SecretIamMember")[0]!.inputs).toMatchObject({ role: "roles/secretmanager.secretAccessor", member: "serviceAccount:prod-sync-vm@proj.iam.gserviceaccount.com" });
});

test.each(["aws", "gcp"])("%s: a changed secret (a new jwtSecret) changes the user data by its version id alone, so the VM is replaced onto it, as an inline env file would have it", async (cloud) => {
  const secret = "J".repeat(40);
  const before = await runProgram(CLOUDS[cloud]!, "prod");
  const after = await runProgram({ ...CLOUDS[cloud]!, jwtSecret: secret }, "prod");
  const [udBefore, udAfter] = [before, after].map((run) => userDataOf(byType(run.resources, VM[cloud]!)[0]!));
  const versionFile = (ud: string) => parse(ud).write_files.find((f: { path: string }) => f.path === "/etc/sync/secret-version")?.content;
  expect(versionFile(udBefore!)).toMatch(/\S/);
  expect(versionFile(udAfter!)).not.toBe(versionFile(udBefore!));
  expect(udAfter).not.toContain(secret);
  // Replaced on a user data change: AWS by userDataReplaceOnChange, GCP by replaceOnChanges on its metadata.
  const vm = byType(after.resources, VM[cloud]!)[0]!;
  if (cloud === "aws") expect(vm.inputs.userDataReplaceOnChange).toBe(true);
  else expect(vm.opts.replaceOnChanges).toContain("metadata");
});

describe("the provider rules table catches what the providers reject", () => {
  test.each([
    ["aws:dlm/lifecyclePolicy:LifecyclePolicy", { description: "sync data volume snapshots (daily, keep 7)" }],
    ["gcp:serviceaccount/account:Account", { accountId: "customer-production-europe-west1-sync-vm" }],
    ["gcp:compute/disk:Disk", { name: "Sync_Data" }],
    ["gcp:compute/disk:Disk", { labels: { "sync-snapshot": "Prod" } }],
    ["digitalocean:index/tag:Tag", { name: "has space" }],
    ["digitalocean:index/volume:Volume", { name: "1-starts-with-digit" }],
    ["aws:ecr/repository:Repository", { name: "Upper" }],
    ["aws:ebs/volume:Volume", { snapshotId: "vol-0123456789abcdef0" }],
    ["digitalocean:index/volume:Volume", { snapshotId: "123456789" }],
    ["gcp:compute/disk:Disk", { snapshot: "Nightly_Snapshot" }],
    ["gcp:compute/disk:Disk", { snapshot: "projects/p/zones/z/disks/d" }],
  ])("%s %j", (type, inputs) => {
    expect(violations(type, "x", inputs)).not.toEqual([]);
  });
});
