import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { SyncServerArgs } from "../contract";
import { serverImage } from "../shared/image";
import { SyncServerBase } from "../shared/sync-server-base";
import { accessToken } from "../shared/token";
import { renderVmUserData } from "../shared/user-data";
import { hostname, SNAPSHOT_TAG, websocketUrl } from "../spec";

export const GCP_TYPE = "athens-sync:gcp:SyncServer";

const DEFAULT_MACHINE = "e2-small";
const DEVICE_NAME = "sync-data";
const NETWORK_TAG = "sync-server";

/** GCE exposes an attached disk under the device name given at attach time. */
export function gcpDevicePath(deviceName: string): string {
  return `/dev/disk/by-id/google-${deviceName}`;
}

/** GCE's Debian images ship without cloud-init: install it once, then let it run the user-data. */
export const BOOTSTRAP_CLOUD_INIT = `#!/bin/sh
if ! command -v cloud-init >/dev/null 2>&1; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y cloud-init
  cloud-init init --local && cloud-init init && cloud-init modules --mode=config && cloud-init modules --mode=final
fi
`;

/** Snapshot retention on GCP is in days: enough days to keep `retain` snapshots. */
export function retentionDays(cfg: Pick<StackConfig, "snapshotSchedule" | "snapshotRetain">): number {
  return cfg.snapshotSchedule === "hourly" ? Math.max(1, Math.ceil(cfg.snapshotRetain / 24)) : cfg.snapshotRetain;
}

/**
 * The sync server on GCP: Artifact Registry + image, a Debian 12 VM with a pull-only
 * service account, a pd-balanced disk that outlives it, a static address, firewall
 * rules, an optional Cloud DNS record, and a snapshot schedule attached to the disk.
 */
export class SyncServer extends SyncServerBase {
  constructor(name: string, args: SyncServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(GCP_TYPE, name, {}, opts);
    const cfg = args.config;
    const client = gcp.organizations.getClientConfigOutput({ parent: this });
    const region = cfg.region ? pulumi.output(cfg.region) : client.region;
    const zone = cfg.zone ? pulumi.output(cfg.zone) : region.apply((r) => `${r}-a`);

    const { image, repo } = this.createImage(name, cfg, args.buildContext, region, client);
    const account = this.createServiceAccount(name, repo);
    const disk = this.createDisk(name, cfg, zone);
    this.createSnapshotSchedule(name, cfg, region, disk, zone);
    const address = new gcp.compute.Address(`${name}-ip`, { region }, { parent: this });
    const token = accessToken(name, this);
    const host = address.address.apply((ip) => hostname(cfg, ip));
    this.createVm(name, cfg, { zone, image, account, address, region, disk, host, token });
    this.createFirewall(name, cfg);
    if (cfg.dnsZone) {
      new gcp.dns.RecordSet(`${name}-dns`, { managedZone: cfg.dnsZone, name: `${cfg.domain}.`, type: "A", ttl: 300, rrdatas: [address.address] }, { parent: this });
    }

    this.publish({ url: host.apply((h) => websocketUrl(h)), hostname: host, ip: address.address, volumeId: disk.id, token, image: image.repoDigest });
  }

  private createImage(name: string, cfg: StackConfig, buildContext: string | undefined, region: pulumi.Output<string>, client: pulumi.Output<gcp.organizations.GetClientConfigResult>) {
    const repo = new gcp.artifactregistry.Repository(`${name}-repo`, { repositoryId: `${name}-images`, format: "DOCKER", location: region }, { parent: this });
    const server = pulumi.interpolate`${region}-docker.pkg.dev`;
    const image = serverImage(
      name,
      {
        imageName: pulumi.interpolate`${server}/${client.project}/${repo.repositoryId}/sync-server:latest`,
        nodeImage: cfg.nodeImage,
        buildContext,
        registry: { server, username: "oauth2accesstoken", password: pulumi.secret(client.accessToken) },
      },
      this,
    );
    return { image, repo };
  }

  private createServiceAccount(name: string, repo: gcp.artifactregistry.Repository) {
    const account = new gcp.serviceaccount.Account(`${name}-vm-sa`, { accountId: `${name}-vm`, displayName: `${name} sync server VM` }, { parent: this });
    new gcp.artifactregistry.RepositoryIamMember(
      `${name}-vm-pull`,
      { repository: repo.name, location: repo.location, role: "roles/artifactregistry.reader", member: pulumi.interpolate`serviceAccount:${account.email}` },
      { parent: this },
    );
    return account;
  }

  private createDisk(name: string, cfg: StackConfig, zone: pulumi.Output<string>) {
    return new gcp.compute.Disk(
      `${name}-data`,
      { zone, type: "pd-balanced", size: cfg.volumeSizeGb, labels: { [SNAPSHOT_TAG]: name } },
      // The data lives here: never deleted by `pulumi destroy`, never silently replaced.
      { parent: this, protect: true, retainOnDelete: true },
    );
  }

  private createSnapshotSchedule(name: string, cfg: StackConfig, region: pulumi.Output<string>, disk: gcp.compute.Disk, zone: pulumi.Output<string>) {
    const schedule =
      cfg.snapshotSchedule === "hourly" ? { hourlySchedule: { hoursInCycle: 1, startTime: "00:00" } } : { dailySchedule: { daysInCycle: 1, startTime: "03:00" } };
    const policy = new gcp.compute.ResourcePolicy(
      `${name}-snapshots`,
      {
        region,
        description: `${name} data disk snapshots (${cfg.snapshotSchedule}, keep ${cfg.snapshotRetain})`,
        snapshotSchedulePolicy: {
          schedule,
          retentionPolicy: { maxRetentionDays: retentionDays(cfg), onSourceDiskDelete: "KEEP_AUTO_SNAPSHOTS" },
          snapshotProperties: { labels: { [SNAPSHOT_TAG]: name }, storageLocations: region },
        },
      },
      { parent: this },
    );
    new gcp.compute.DiskResourcePolicyAttachment(`${name}-snapshots-attach`, { disk: disk.name, name: policy.name, zone }, { parent: this });
    return policy;
  }

  private createVm(
    name: string,
    cfg: StackConfig,
    deps: {
      zone: pulumi.Output<string>;
      region: pulumi.Output<string>;
      image: ReturnType<SyncServer["createImage"]>["image"];
      account: gcp.serviceaccount.Account;
      address: gcp.compute.Address;
      disk: gcp.compute.Disk;
      host: pulumi.Output<string>;
      token: pulumi.Output<string>;
    },
  ) {
    const registryHost = pulumi.interpolate`${deps.region}-docker.pkg.dev`;
    const userData = pulumi.all([deps.image.repoDigest, deps.host, deps.token, registryHost]).apply(([image, host, token, registry]) =>
      renderVmUserData(cfg, {
        image,
        hostname: host,
        token,
        devicePaths: [gcpDevicePath(DEVICE_NAME)],
        // The VM's service account token from the metadata server; refreshed before every start.
        registry: {
          kind: "login-command",
          command:
            `curl -fsS -H 'Metadata-Flavor: Google' http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token ` +
            `| sed -E 's/.*"access_token":"([^"]+)".*/\\1/' | docker login -u oauth2accesstoken --password-stdin https://${registry}`,
        },
      }),
    );
    return new gcp.compute.Instance(
      `${name}-vm`,
      {
        zone: deps.zone,
        machineType: cfg.instanceSize ?? DEFAULT_MACHINE,
        bootDisk: { initializeParams: { image: "debian-cloud/debian-12", size: 20, type: "pd-balanced" } },
        networkInterfaces: [{ network: "default", accessConfigs: [{ natIp: deps.address.address }] }],
        // Attached inline, not by a separate AttachedDisk: on replacement GCE shuts the old
        // VM down (the stack drains) before the disk leaves it. Only the boot disk is deleted with a VM.
        attachedDisks: [{ source: deps.disk.id, deviceName: DEVICE_NAME, mode: "READ_WRITE" }],
        metadata: { "user-data": pulumi.secret(userData), "enable-oslogin": "TRUE" },
        metadataStartupScript: BOOTSTRAP_CLOUD_INIT,
        serviceAccount: { email: deps.account.email, scopes: ["cloud-platform"] },
        shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
        allowStoppingForUpdate: true,
        tags: [NETWORK_TAG],
      },
      // A new image (new user data) replaces the VM, old one first: the disk attaches to one VM at a time.
      { parent: this, deleteBeforeReplace: true, replaceOnChanges: ["metadata"] },
    );
  }

  private createFirewall(name: string, cfg: StackConfig) {
    new gcp.compute.Firewall(
      `${name}-web`,
      { network: "default", allows: [{ protocol: "tcp", ports: ["80", "443"] }, { protocol: "udp", ports: ["443"] }], sourceRanges: ["0.0.0.0/0"], targetTags: [NETWORK_TAG] },
      { parent: this },
    );
    // The default network allows SSH from anywhere (default-allow-ssh, priority 65534): deny it first.
    new gcp.compute.Firewall(
      `${name}-deny-ssh`,
      { network: "default", denies: [{ protocol: "tcp", ports: ["22"] }], sourceRanges: ["0.0.0.0/0"], targetTags: [NETWORK_TAG], priority: 1000 },
      { parent: this },
    );
    if (cfg.sshCidrs.length > 0) {
      new gcp.compute.Firewall(
        `${name}-ssh`,
        { network: "default", allows: [{ protocol: "tcp", ports: ["22"] }], sourceRanges: [...cfg.sshCidrs], targetTags: [NETWORK_TAG], priority: 900 },
        { parent: this },
      );
    }
  }
}
