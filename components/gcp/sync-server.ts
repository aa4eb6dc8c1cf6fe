import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { SyncServerArgs } from "../contract";
import { renderEnvFile } from "../render/compose";
import { mirrorImage, mirrorTag, serverImage } from "../shared/image";
import { SyncServerBase } from "../shared/sync-server-base";
import { snapshotSlug } from "../snapshot-id";
import { accessToken, adminToken } from "../shared/token";
import { renderVmUserData, secretVersionFile } from "../shared/user-data";
import { hostname, serverSecrets, shortName, SNAPSHOT_TAG, stackPrefix, websocketUrl } from "../spec";
import { renderSecretFetch, SECRET_FETCH } from "./secret-fetch";
import { defaultZone } from "./zone";

export const GCP_TYPE = "athens-sync:gcp:SyncServer";

const DEFAULT_MACHINE = "e2-small";
const DEVICE_NAME = "sync-data";
/** Debian 13: docker.io and Compose v2 from Debian. */
export const GCE_IMAGE = "debian-cloud/debian-13";
const SUBNET_CIDR = "10.80.1.0/24";
/** Where IAP's TCP forwarding connects from (https://cloud.google.com/iap/docs/using-tcp-forwarding). */
export const IAP_RANGE = "35.235.240.0/20";

/** GCE exposes an attached disk under the device name given at attach time. */
export function gcpDevicePath(deviceName: string): string {
  return `/dev/disk/by-id/google-${deviceName}`;
}

/**
 * GCE's Debian images ship without cloud-init (they run Google's guest agent), so this
 * startup script installs it on first boot and runs its stages once by hand; later
 * boots run cloud-init from systemd. Robust by construction: apt retries and waits for
 * locks and the whole install is retried for up to 30 minutes; every stage runs even if
 * an earlier one reported a module error (`;`, not `&&`), because the stack is started
 * by systemd units that the write_files and runcmd modules install.
 */
export const BOOTSTRAP_CLOUD_INIT = `#!/bin/sh
log() { echo "sync-bootstrap: $*"; logger -t sync-bootstrap -- "$*" 2>/dev/null || true; }
if command -v cloud-init >/dev/null 2>&1; then exit 0; fi
tries=0
until DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=10 -o DPkg::Lock::Timeout=600 update \\
  && DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=10 -o DPkg::Lock::Timeout=600 install -y cloud-init; do
  tries=$((tries + 1))
  if [ "$tries" -ge 60 ]; then log "FATAL: could not install cloud-init after $tries attempts"; exit 1; fi
  log "installing cloud-init failed (attempt $tries); retrying in 30s"
  sleep 30
done
for stage in "init --local" "init" "modules --mode=config" "modules --mode=final"; do
  # shellcheck disable=SC2086
  cloud-init $stage || log "cloud-init $stage reported an error; continuing with the next stage"
done
`;

/** Snapshot retention on GCP is in days: enough days to keep `retain` snapshots. */
export function retentionDays(cfg: Pick<StackConfig, "snapshotSchedule" | "snapshotRetain">): number {
  return cfg.snapshotSchedule === "hourly" ? Math.max(1, Math.ceil(cfg.snapshotRetain / 24)) : cfg.snapshotRetain;
}

/** The daily snapshot's start (UTC): one of the six times GCP's daily schedule accepts. */
export const DAILY_SNAPSHOT_AT = "04:00";

/**
 * The sync server on GCP: Artifact Registry + image, a Debian 12 VM with a pull-only
 * service account, a pd-balanced disk that outlives it, a static address, firewall
 * rules, an optional Cloud DNS record, and a snapshot schedule attached to the disk.
 */
export class SyncServer extends SyncServerBase {
  constructor(name: string, args: SyncServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(GCP_TYPE, name, {}, opts);
    const cfg = args.config;
    // Every name, label and network tag carries the stack: two stacks in one project never collide.
    const prefix = stackPrefix(pulumi.getStack(), name);
    const client = gcp.organizations.getClientConfigOutput({ parent: this });
    const region = cfg.region ? pulumi.output(cfg.region) : client.region;
    const zone = cfg.zone ? pulumi.output(cfg.zone) : region.apply(defaultZone);

    const network = this.createNetwork(name, prefix, cfg, region);
    const { image, caddy, repo } = this.createImages(name, prefix, cfg, args.buildContext, region, client);
    const account = this.createServiceAccount(name, prefix, repo);
    const token = accessToken(name, this);
    const admin = adminToken(name, this);
    const secret = this.createSecret(name, prefix, cfg, account, token, admin);
    // The original disk is always declared: during a restore it stays, detached, protected and retained.
    const original = this.createDisk(name, prefix, cfg, zone);
    const restored = cfg.restoreFromSnapshot ? this.createRestoredDisk(name, prefix, cfg, zone, cfg.restoreFromSnapshot) : undefined;
    const disk = restored ?? original;
    const policy = this.createSnapshotSchedule(name, prefix, cfg, region, original, zone);
    // Every data disk stays on the schedule (a disk takes one schedule; each gets its own attachment).
    if (restored) new gcp.compute.DiskResourcePolicyAttachment(`${name}-snapshots-attach-${snapshotSlug(cfg.restoreFromSnapshot!)}`, { disk: restored.name, name: policy.name, zone }, { parent: this });
    const address = new gcp.compute.Address(`${name}-ip`, { name: `${prefix}-ip`, region }, { parent: this });
    const host = address.address.apply((ip) => hostname(cfg, ip));
    const vm = this.createVm(name, prefix, cfg, { zone, image, caddy, account, address, region, disk, host, network, secret, project: client.project });
    this.createFirewall(name, prefix, cfg, network.network);
    if (cfg.dnsZone) {
      new gcp.dns.RecordSet(`${name}-dns`, { managedZone: cfg.dnsZone, name: `${cfg.domain}.`, type: "A", ttl: 300, rrdatas: [address.address] }, { parent: this });
    }

    this.publish({
      url: host.apply((h) => websocketUrl(h)),
      hostname: host,
      ip: address.address,
      volumeId: disk.id,
      token,
      image: image.repoDigest,
      adminToken: admin,
      cloud: pulumi.output("gcp" as const),
      region,
      // projects/P/zones/Z/instances/NAME: project and zone for gcloud.
      instanceId: vm.id,
      zone,
      project: client.project,
      instanceName: vm.name,
      retainedVolumeIds: restored ? pulumi.all([original.id]) : pulumi.output([]),
      snapshotTag: pulumi.output({ key: SNAPSHOT_TAG, value: shortName(prefix, 63) }),
    });
  }

  /** An existing network (config `network`), or one of the stack's own: the default network is not assumed. */
  private createNetwork(name: string, prefix: string, cfg: StackConfig, region: pulumi.Output<string>): { network: pulumi.Output<string>; subnetwork?: pulumi.Output<string> } {
    if (cfg.network) return { network: pulumi.output(cfg.network) };
    const network = new gcp.compute.Network(`${name}-net`, { name: `${prefix}-net`, autoCreateSubnetworks: false }, { parent: this });
    const subnet = new gcp.compute.Subnetwork(`${name}-subnet`, { name: `${prefix}-subnet`, network: network.id, region, ipCidrRange: SUBNET_CIDR }, { parent: this });
    return { network: network.name, subnetwork: subnet.id };
  }

  /**
   * The server's secrets in Secret Manager, readable by the VM's service account only:
   * the VM fetches them at boot, so the instance metadata (readable by anything on the
   * VM that reaches the metadata server) carries none.
   */
  private createSecret(name: string, prefix: string, cfg: StackConfig, account: gcp.serviceaccount.Account, token: pulumi.Output<string>, admin: pulumi.Output<string>) {
    const secret = new gcp.secretmanager.Secret(`${name}-env`, { secretId: shortName(`${prefix}-env`, 255), replication: { auto: {} } }, { parent: this });
    const version = new gcp.secretmanager.SecretVersion(
      `${name}-env-version`,
      { secret: secret.id, secretData: pulumi.secret(pulumi.all([token, admin]).apply(([t, a]) => renderEnvFile(serverSecrets(t, cfg.jwtSecret, a)))) },
      { parent: this },
    );
    new gcp.secretmanager.SecretIamMember(
      `${name}-env-reader`,
      { secretId: secret.id, role: "roles/secretmanager.secretAccessor", member: pulumi.interpolate`serviceAccount:${account.email}` },
      { parent: this },
    );
    return { secretId: secret.secretId, version };
  }

  private createImages(name: string, prefix: string, cfg: StackConfig, buildContext: string | undefined, region: pulumi.Output<string>, client: pulumi.Output<gcp.organizations.GetClientConfigResult>) {
    const repo = new gcp.artifactregistry.Repository(`${name}-repo`, { repositoryId: shortName(prefix, 63), format: "DOCKER", location: region }, { parent: this });
    const server = pulumi.interpolate`${region}-docker.pkg.dev`;
    const registry = { server, username: "oauth2accesstoken", password: pulumi.secret(client.accessToken) };
    const path = pulumi.interpolate`${server}/${client.project}/${repo.repositoryId}`;
    const image = serverImage(name, { imageName: pulumi.interpolate`${path}/sync-server:latest`, nodeImage: cfg.nodeImage, buildContext, registry }, this);
    const caddy = mirrorImage(`${name}-caddy`, { source: cfg.caddyImage, target: pulumi.interpolate`${path}/caddy:${mirrorTag(cfg.caddyImage)}`, registry }, this);
    return { image, caddy, repo };
  }

  private createServiceAccount(name: string, prefix: string, repo: gcp.artifactregistry.Repository) {
    // accountId: 6-30 characters; long stack names are cut and hashed.
    const account = new gcp.serviceaccount.Account(`${name}-vm-sa`, { accountId: shortName(`${prefix}-vm`, 30), displayName: `${prefix} sync server VM` }, { parent: this });
    new gcp.artifactregistry.RepositoryIamMember(
      `${name}-vm-pull`,
      { repository: repo.name, location: repo.location, role: "roles/artifactregistry.reader", member: pulumi.interpolate`serviceAccount:${account.email}` },
      { parent: this },
    );
    return account;
  }

  private createDisk(name: string, prefix: string, cfg: StackConfig, zone: pulumi.Output<string>) {
    return new gcp.compute.Disk(
      `${name}-data`,
      { name: shortName(`${prefix}-data`, 63), zone, type: "pd-balanced", size: cfg.volumeSizeGb, labels: { [SNAPSHOT_TAG]: shortName(prefix, 63) } },
      // The data lives here: never deleted by `pulumi destroy`, never silently replaced.
      { parent: this, protect: true, retainOnDelete: true },
    );
  }

  /**
   * A new disk from a snapshot (config `restoreFromSnapshot`), under its own logical name
   * and disk name, so the original is neither replaced nor touched: `snapshot` is ForceNew
   * on google_compute_disk (terraform-provider-google resource_compute_disk.go).
   */
  private createRestoredDisk(name: string, prefix: string, cfg: StackConfig, zone: pulumi.Output<string>, snapshot: string) {
    const slug = snapshotSlug(snapshot);
    return new gcp.compute.Disk(
      `${name}-data-${slug}`,
      { name: shortName(`${prefix}-data-${slug}`, 63), zone, type: "pd-balanced", size: cfg.volumeSizeGb, snapshot, labels: { [SNAPSHOT_TAG]: shortName(prefix, 63) } },
      { parent: this, protect: true, retainOnDelete: true },
    );
  }

  private createSnapshotSchedule(name: string, prefix: string, cfg: StackConfig, region: pulumi.Output<string>, disk: gcp.compute.Disk, zone: pulumi.Output<string>) {
    const schedule =
      // A daily start time must resolve to 00:00, 04:00, 08:00, 12:00, 16:00 or 20:00 UTC
      // (the provider's schema, ResourcePolicySnapshotSchedulePolicyScheduleDailySchedule.startTime).
      cfg.snapshotSchedule === "hourly" ? { hourlySchedule: { hoursInCycle: 1, startTime: "00:00" } } : { dailySchedule: { daysInCycle: 1, startTime: DAILY_SNAPSHOT_AT } };
    const policy = new gcp.compute.ResourcePolicy(
      `${name}-snapshots`,
      {
        name: shortName(`${prefix}-snapshots`, 63),
        region,
        description: `${prefix} data disk snapshots, ${cfg.snapshotSchedule}, keep ${cfg.snapshotRetain}`,
        snapshotSchedulePolicy: {
          schedule,
          retentionPolicy: { maxRetentionDays: retentionDays(cfg), onSourceDiskDelete: "KEEP_AUTO_SNAPSHOTS" },
          snapshotProperties: { labels: { [SNAPSHOT_TAG]: shortName(prefix, 63) }, storageLocations: region },
        },
      },
      { parent: this },
    );
    new gcp.compute.DiskResourcePolicyAttachment(`${name}-snapshots-attach`, { disk: disk.name, name: policy.name, zone }, { parent: this });
    return policy;
  }

  private createVm(
    name: string,
    prefix: string,
    cfg: StackConfig,
    deps: {
      zone: pulumi.Output<string>;
      region: pulumi.Output<string>;
      image: ReturnType<SyncServer["createImages"]>["image"];
      caddy: pulumi.Output<string>;
      network: ReturnType<SyncServer["createNetwork"]>;
      secret: ReturnType<SyncServer["createSecret"]>;
      project: pulumi.Output<string>;
      account: gcp.serviceaccount.Account;
      address: gcp.compute.Address;
      disk: gcp.compute.Disk;
      host: pulumi.Output<string>;
    },
  ) {
    const registryHost = pulumi.interpolate`${deps.region}-docker.pkg.dev`;
    const userData = pulumi.all([deps.image.repoDigest, deps.caddy, deps.host, registryHost, deps.project, deps.secret.secretId, deps.secret.version.name]).apply(([image, caddyImage, host, registry, project, secretId, secretVersion]) =>
      renderVmUserData(cfg, {
        image,
        caddyImage,
        hostname: host,
        // Fetched at boot from Secret Manager with the VM's service account.
        secrets: { kind: "fetch", command: SECRET_FETCH },
        files: [{ path: SECRET_FETCH, permissions: "0700", content: renderSecretFetch(project, secretId) }, secretVersionFile(secretVersion)],
        extraPackages: ["jq"],
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
        name: `${prefix}-vm`,
        bootDisk: { initializeParams: { image: GCE_IMAGE, size: 20, type: "pd-balanced" } },
        networkInterfaces: [{ network: deps.network.network, ...(deps.network.subnetwork ? { subnetwork: deps.network.subnetwork } : {}), accessConfigs: [{ natIp: deps.address.address }] }],
        // Attached inline, not by a separate AttachedDisk: on replacement GCE shuts the old
        // VM down (the stack drains) before the disk leaves it. Only the boot disk is deleted with a VM.
        attachedDisks: [{ source: deps.disk.id, deviceName: DEVICE_NAME, mode: "READ_WRITE" }],
        // Not a secret: it holds none (the env file is fetched at boot), and a PR preview
        // must show what changed in it, since a change replaces the VM.
        metadata: { "user-data": userData, "enable-oslogin": "TRUE" },
        metadataStartupScript: BOOTSTRAP_CLOUD_INIT,
        serviceAccount: { email: deps.account.email, scopes: ["cloud-platform"] },
        shieldedInstanceConfig: { enableSecureBoot: true, enableVtpm: true, enableIntegrityMonitoring: true },
        allowStoppingForUpdate: true,
        tags: [prefix],
      },
      // A new image (new user data) replaces the VM, old one first: the disk attaches to one VM at a time.
      // So does a new disk (a restore): the provider's in-place update of attached_disk calls
      // detachDisk on the running instance (resource_compute_instance.go resourceComputeInstanceUpdate).
      // The secret's version is created before the VM boots and fetches it.
      { parent: this, deleteBeforeReplace: true, replaceOnChanges: ["metadata", "attachedDisks"], dependsOn: [deps.secret.version] },
    );
  }

  private createFirewall(name: string, prefix: string, cfg: StackConfig, network: pulumi.Output<string>) {
    // Only what listens: TCP 80 and 443 (no UDP: HTTP/3 is not published).
    new gcp.compute.Firewall(
      `${name}-web`,
      { name: `${prefix}-web`, network, allows: [{ protocol: "tcp", ports: ["80", "443"] }], sourceRanges: ["0.0.0.0/0"], targetTags: [prefix] },
      { parent: this },
    );
    // A default network allows SSH from anywhere (default-allow-ssh, priority 65534): deny it.
    new gcp.compute.Firewall(
      `${name}-deny-ssh`,
      { name: `${prefix}-deny-ssh`, network, denies: [{ protocol: "tcp", ports: ["22"] }], sourceRanges: ["0.0.0.0/0"], targetTags: [prefix], priority: 1000 },
      { parent: this },
    );
    // The shell: `gcloud compute ssh --tunnel-through-iap`, authorised by OS Login (IAM), from IAP's range only.
    new gcp.compute.Firewall(
      `${name}-iap-ssh`,
      { name: `${prefix}-iap-ssh`, network, allows: [{ protocol: "tcp", ports: ["22"] }], sourceRanges: [IAP_RANGE], targetTags: [prefix], priority: 900 },
      { parent: this },
    );
    if (cfg.sshCidrs.length > 0) {
      new gcp.compute.Firewall(
        `${name}-ssh`,
        { name: `${prefix}-ssh`, network, allows: [{ protocol: "tcp", ports: ["22"] }], sourceRanges: [...cfg.sshCidrs], targetTags: [prefix], priority: 900 },
        { parent: this },
      );
    }
  }
}
