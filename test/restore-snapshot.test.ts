/**
 * Restore from a snapshot (config `restoreFromSnapshot`) under mocks, on every cloud: a
 * new data volume is created from the snapshot, under a name of its own; the original
 * volume is still declared, unchanged, protected and retained (so neither deleted nor
 * replaced); the VM attaches the new one, by a path that replaces the VM rather than
 * swapping the disk under it (test/cloud-invariants.test.ts holds that rule for all).
 */
import { parse } from "yaml";
import { parseConfig, StackConfigError } from "../components/config";
import { byType, type Captured, plain, runProgram } from "./mocks";

const DO_TOKEN = "dop_v1_" + "f".repeat(64);
const SNAP = { aws: "snap-0fedcba9876543210", digitalocean: "506f78a4-e098-11e5-ad9f-000f53306ae1", gcp: "projects/my-project/global/snapshots/prod-sync-data-us-central1-a-20261124030012-k3x9q2ab" } as const;
const BASE: Record<keyof typeof SNAP, Record<string, string>> = {
  aws: { provider: "aws" },
  digitalocean: { provider: "digitalocean", doSnapshotToken: DO_TOKEN },
  gcp: { provider: "gcp", region: "us-central1" },
};
const VOLUME = { aws: "aws:ebs/volume:Volume", digitalocean: "digitalocean:index/volume:Volume", gcp: "gcp:compute/disk:Disk" } as const;
const SNAPSHOT_FIELD = { aws: "snapshotId", digitalocean: "snapshotId", gcp: "snapshot" } as const;
const userDataOf = (r: Captured): string => plain<string>(r.inputs.userData ?? plain<Record<string, unknown>>(r.inputs.metadata)["user-data"]);

/** What the VM attaches, per cloud: the volume id(s) it is wired to. */
function attachedIds(cloud: keyof typeof SNAP, resources: Captured[]): string[] {
  switch (cloud) {
    case "aws":
      return byType(resources, "aws:ec2/volumeAttachment:VolumeAttachment").map((a) => a.inputs.volumeId as string);
    case "digitalocean":
      return byType(resources, "digitalocean:index/droplet:Droplet").flatMap((d) => d.inputs.volumeIds as string[]);
    case "gcp":
      return byType(resources, "gcp:compute/instance:Instance").flatMap((i) => (i.inputs.attachedDisks as Array<{ source: string }>).map((d) => d.source));
  }
}

/** The mock gives each volume the id its provider would: the EBS id, else `<logical name>-id`. */
function idOf(cloud: keyof typeof SNAP, volume: Captured): string {
  if (cloud !== "aws") return `${volume.name}-id`;
  return volume.inputs.snapshotId ? `vol-0${String(volume.inputs.snapshotId).replace(/[^0-9a-f]/g, "").padEnd(16, "0").slice(0, 16)}` : "vol-0123456789abcdef0";
}

describe.each(Object.keys(SNAP) as Array<keyof typeof SNAP>)("%s", (cloud) => {
  let before: Awaited<ReturnType<typeof runProgram>>;
  let after: Awaited<ReturnType<typeof runProgram>>;
  beforeAll(async () => {
    before = await runProgram(BASE[cloud], "prod");
    after = await runProgram({ ...BASE[cloud], restoreFromSnapshot: SNAP[cloud] }, "prod");
  });

  test("a new volume is created from the snapshot id, under its own logical and cloud name", () => {
    const volumes = byType(after.resources, VOLUME[cloud]);
    expect(volumes).toHaveLength(2);
    const fresh = volumes.filter((v) => v.inputs[SNAPSHOT_FIELD[cloud]] !== undefined);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.inputs[SNAPSHOT_FIELD[cloud]]).toBe(SNAP[cloud]);
    const [original] = byType(before.resources, VOLUME[cloud]);
    expect(fresh[0]!.name).not.toBe(original!.name);
    const cloudName = (v: Captured) => (cloud === "aws" ? v.inputs.tags.Name : v.inputs.name) as string;
    expect(cloudName(fresh[0]!)).not.toBe(cloudName(original!));
    expect(fresh[0]!.inputs.size).toBe(original!.inputs.size);
    // Data safety as for the original: never deleted, never silently replaced.
    expect(fresh[0]!.opts).toMatchObject({ protect: true, retainOnDelete: true });
  });

  test("the old volume is retained, not deleted: still declared with the same logical name, inputs and protection", () => {
    const [original] = byType(before.resources, VOLUME[cloud]);
    const kept = byType(after.resources, VOLUME[cloud]).find((v) => v.name === original!.name);
    // Still in the program: Pulumi neither deletes nor replaces it (protect would refuse either way).
    expect(kept).toBeDefined();
    expect(kept!.inputs).toEqual(original!.inputs);
    expect(kept!.opts).toMatchObject({ protect: true, retainOnDelete: true });
    expect(after.resolved.retainedVolumeIds).toEqual([idOf(cloud, kept!)]);
    expect(before.resolved.retainedVolumeIds).toEqual([]);
  });

  test("the VM attaches the new one, and only the new one", () => {
    const fresh = byType(after.resources, VOLUME[cloud]).find((v) => v.inputs[SNAPSHOT_FIELD[cloud]] !== undefined)!;
    expect(attachedIds(cloud, after.resources)).toEqual([idOf(cloud, fresh)]);
    expect(after.resolved.volumeId).toBe(idOf(cloud, fresh));
  });

  test("the VM is replaced (stopped first), never has its disk swapped while running", () => {
    const vmType = { aws: "aws:ec2/instance:Instance", digitalocean: "digitalocean:index/droplet:Droplet", gcp: "gcp:compute/instance:Instance" }[cloud];
    const [vmBefore] = byType(before.resources, vmType);
    const [vmAfter] = byType(after.resources, vmType);
    expect(vmAfter!.opts.deleteBeforeReplace).toBe(true);
    if (cloud === "aws") {
      // New user data (the device path names the volume) with userDataReplaceOnChange: a new instance.
      expect(userDataOf(vmAfter!)).not.toBe(userDataOf(vmBefore!));
      expect(userDataOf(vmAfter!)).toContain("nvme-Amazon_Elastic_Block_Store_vol0");
      expect(vmAfter!.inputs.userDataReplaceOnChange).toBe(true);
      const [attach] = byType(after.resources, "aws:ec2/volumeAttachment:VolumeAttachment");
      expect(attach!.inputs.stopInstanceBeforeDetaching).toBe(true);
    }
    if (cloud === "digitalocean") {
      expect(vmAfter!.opts.replaceOnChanges).toContain("volumeIds");
      expect(vmAfter!.inputs.gracefulShutdown).toBe(true);
      const doc = parse(userDataOf(vmAfter!));
      // The device path and the snapshot job follow the new volume.
      expect(userDataOf(vmAfter!)).toMatch(/scsi-0DO_Volume_prod-sync-data-506f78a4-e098-11e5-ad9f-000f53306ae1/);
      expect(doc.write_files.find((f: { path: string }) => f.path === "/etc/sync/do-snapshot.env").content).toContain("VOLUME_ID='sync-data-506f78a4-e098-11e5-ad9f-000f53306ae1-id'\n");
    }
    if (cloud === "gcp") {
      expect(vmAfter!.opts.replaceOnChanges).toEqual(expect.arrayContaining(["metadata", "attachedDisks"]));
      expect(vmAfter!.inputs.attachedDisks[0].deviceName).toBe(vmBefore!.inputs.attachedDisks[0].deviceName);
    }
  });

  test("both volumes stay on the snapshot schedule", () => {
    if (cloud === "aws") {
      const [policy] = byType(after.resources, "aws:dlm/lifecyclePolicy:LifecyclePolicy");
      for (const v of byType(after.resources, VOLUME.aws)) expect(v.inputs.tags).toMatchObject(policy!.inputs.policyDetails.targetTags);
    }
    if (cloud === "gcp") {
      const disks = byType(after.resources, VOLUME.gcp).map((d) => d.inputs.name).sort();
      const attached = byType(after.resources, "gcp:compute/diskResourcePolicyAttachment:DiskResourcePolicyAttachment").map((a) => a.inputs.disk).sort();
      expect(attached).toEqual(disks);
    }
    if (cloud === "digitalocean") expect(userDataOf(byType(after.resources, "digitalocean:index/droplet:Droplet")[0]!)).toContain("sync-snapshot.timer");
  });

  test("the admin token reaches the server's environment and is a secret stack output", async () => {
    const admin = String(after.resolved.adminToken);
    expect(admin).toHaveLength(48);
    if (cloud === "gcp") {
      const [version] = byType(after.resources, "gcp:secretmanager/secretVersion:SecretVersion");
      expect(plain<string>(version!.inputs.secretData)).toContain(`SYNC_ADMIN_TOKEN=${admin}\n`);
    } else if (cloud === "aws") {
      const [version] = byType(after.resources, "aws:secretsmanager/secretVersion:SecretVersion");
      expect(plain<string>(version!.inputs.secretString)).toContain(`SYNC_ADMIN_TOKEN=${admin}\n`);
    } else {
      const vm = byType(after.resources, "digitalocean:index/droplet:Droplet")[0]!;
      const env = parse(userDataOf(vm)).write_files.find((f: { path: string }) => f.path === "/etc/sync/server.env");
      expect(env.content).toContain(`SYNC_ADMIN_TOKEN=${admin}\n`);
      expect(env.permissions).toBe("0600");
    }
    expect(after.resolved.cloud).toBe(cloud);
  });
});

test("a malformed snapshot id fails before any resource, naming the key and the fix for that cloud", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ provider: "aws", restoreFromSnapshot: "vol-0123456789abcdef0" }, /athens-sync:restoreFromSnapshot: must be an EBS snapshot id such as snap-0123456789abcdef0/],
    [{ provider: "aws", restoreFromSnapshot: "snap-0123" }, /athens-sync:restoreFromSnapshot: must be an EBS snapshot id/],
    [{ provider: "digitalocean", doSnapshotToken: DO_TOKEN, restoreFromSnapshot: "123456789" }, /athens-sync:restoreFromSnapshot: is a numeric id, which DigitalOcean gives Droplet snapshots/],
    [{ provider: "digitalocean", doSnapshotToken: DO_TOKEN, restoreFromSnapshot: "snap-0123456789abcdef0" }, /athens-sync:restoreFromSnapshot: must be a DigitalOcean volume snapshot id, a lowercase UUID/],
    [{ provider: "gcp", restoreFromSnapshot: "Nightly_Snapshot" }, /athens-sync:restoreFromSnapshot: must be a GCP snapshot name/],
    [{ provider: "gcp", restoreFromSnapshot: "projects/My Project/global/snapshots/ok" }, /athens-sync:restoreFromSnapshot: names the project "My Project"/],
    [{ provider: "docker", restoreFromSnapshot: "snap-0123456789abcdef0" }, /athens-sync:restoreFromSnapshot: is not supported by the local docker provider.*--from-backup/],
  ];
  for (const [raw, message] of cases) {
    expect(() => parseConfig(raw)).toThrow(StackConfigError);
    expect(() => parseConfig(raw)).toThrow(message);
  }
  for (const [provider, id] of [["aws", "snap-0123abcd"], ["gcp", "sync-data-1"], ["gcp", "global/snapshots/sync-data-1"], ["gcp", "https://www.googleapis.com/compute/v1/projects/my-project/global/snapshots/sync-data-1"]] as const) {
    expect(parseConfig({ provider, restoreFromSnapshot: id }).restoreFromSnapshot).toBe(id);
  }
});
