import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { SyncServerArgs } from "../contract";
import { mirrorImage, mirrorTag, serverImage } from "../shared/image";
import { SyncServerBase } from "../shared/sync-server-base";
import { snapshotSlug } from "../snapshot-id";
import { accessToken, adminToken } from "../shared/token";
import { renderVmUserData } from "../shared/user-data";
import { hostname, shortName, SNAPSHOT_TAG, stackPrefix, websocketUrl } from "../spec";
import { renderSnapshotEnv, renderSnapshotScript, SNAPSHOT_ENV, SNAPSHOT_SCRIPT, snapshotUnits } from "./snapshot-job";

export const DO_TYPE = "athens-sync:digitalocean:SyncServer";

const DEFAULT_REGION = "nyc3";
const DEFAULT_SIZE = "s-1vcpu-2gb";
/** Debian 13: docker.io and Compose v2 from Debian. */
export const DO_IMAGE = "debian-13-x64";
/** The provider shuts a Droplet down before deleting it; the default 60 s delete timeout can cut a drain short. */
const DELETE_TIMEOUT = "10m";

/** DigitalOcean exposes a volume under its name. */
export function doVolumePath(volumeName: string): string {
  return `/dev/disk/by-id/scsi-0DO_Volume_${volumeName}`;
}

/**
 * A volume's `initial_filesystem_type` and `_label` are ForceNew and not Computed, yet the
 * provider's Read copies the API's filesystem type into them (terraform-provider-digitalocean
 * digitalocean/volume/resource_volume.go, resourceDigitalOceanVolumeRead), and the API
 * reports the ext4 the boot script makes. Unset here, a `pulumi refresh` (or a volume
 * restored from a snapshot, which reports ext4 from the start) would plan to replace the
 * data volume: refused by `protect`, and every later `up` with it.
 */
const FILESYSTEM_READ_BACK = ["initialFilesystemType", "initialFilesystemLabel"];

/**
 * The sync server on DigitalOcean: DOCR + image, a Debian 12 Droplet, a volume that
 * outlives it, a reserved IP, a firewall, an optional DNS record, and a snapshot timer
 * on the Droplet (DigitalOcean has no native volume snapshot schedule).
 */
export class SyncServer extends SyncServerBase {
  constructor(name: string, args: SyncServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DO_TYPE, name, {}, opts);
    const cfg = args.config;
    const region = cfg.region ?? DEFAULT_REGION;
    // Every name and tag carries the stack: two stacks in one account never share a resource.
    const prefix = stackPrefix(pulumi.getStack(), name);
    // Volume names are per account and region, and become the device path.
    const volumeName = shortName(`${prefix}-data`, 64);

    const { image, caddy, registryCredentials } = this.createImages(name, prefix, cfg, args.buildContext, region);
    // The original volume is always declared: during a restore it stays, detached, protected and retained.
    const original = this.createVolume(name, cfg, region, volumeName);
    const restored = cfg.restoreFromSnapshot ? this.createRestoredVolume(name, prefix, cfg, region, cfg.restoreFromSnapshot) : undefined;
    const volume = restored?.volume ?? original;
    const attachedName = restored?.volumeName ?? volumeName;
    const vpcUuid = cfg.network ? pulumi.output(cfg.network) : new digitalocean.Vpc(`${name}-vpc`, { name: `${prefix}-vpc`, region }, { parent: this }).id;
    // The firewall follows this tag, so a replacement Droplet is covered from its first second.
    const tag = new digitalocean.Tag(`${name}-tag`, { name: prefix }, { parent: this });
    this.createFirewall(name, prefix, cfg, tag);
    const reservedIp = new digitalocean.ReservedIp(`${name}-ip`, { region }, { parent: this });
    const token = accessToken(name, this);
    const admin = adminToken(name, this);
    const host = reservedIp.ipAddress.apply((ip) => hostname(cfg, ip));
    const droplet = this.createDroplet(name, prefix, cfg, { region, image, caddy, registryCredentials, volume, volumeName: attachedName, host, token, adminToken: admin, tag, vpcUuid });
    const dropletId = droplet.id.apply(Number);
    new digitalocean.ReservedIpAssignment(`${name}-ip-assign`, { ipAddress: reservedIp.ipAddress, dropletId }, { parent: this, deleteBeforeReplace: true });
    if (cfg.dnsZone) this.createDns(name, cfg.dnsZone, cfg.domain!, reservedIp.ipAddress);

    this.publish({
      url: host.apply((h) => websocketUrl(h)),
      hostname: host,
      ip: reservedIp.ipAddress,
      volumeId: volume.id,
      token,
      image: image.repoDigest,
      adminToken: admin,
      cloud: pulumi.output("digitalocean" as const),
      region: pulumi.output(region),
      instanceId: droplet.id,
      retainedVolumeIds: restored ? pulumi.all([original.id]) : pulumi.output([]),
      // DigitalOcean volume snapshots carry no tag: the CLI lists them per volume id.
      snapshotTag: pulumi.output({ key: SNAPSHOT_TAG, value: prefix }),
    });
  }

  private createImages(name: string, prefix: string, cfg: StackConfig, buildContext: string | undefined, region: string) {
    // One registry per account on DigitalOcean: name an existing one (containerRegistry), or this stack creates it.
    const registryName = cfg.containerRegistry
      ? pulumi.output(cfg.containerRegistry)
      : new digitalocean.ContainerRegistry(`${name}-registry`, { name: shortName(prefix, 63), subscriptionTierSlug: "basic", region }, { parent: this }).name;
    const push = new digitalocean.ContainerRegistryDockerCredentials(`${name}-push-creds`, { registryName, write: true }, { parent: this });
    // Read-only and non-expiring: the Droplet pulls on every start.
    const pull = new digitalocean.ContainerRegistryDockerCredentials(`${name}-pull-creds`, { registryName, write: false }, { parent: this });
    const auth = pulumi.secret(
      push.dockerCredentials.apply((json) => {
        const [server, entry] = Object.entries((JSON.parse(json) as { auths: Record<string, { auth: string }> }).auths)[0]!;
        const [username, ...rest] = Buffer.from(entry.auth, "base64").toString("utf8").split(":");
        return { server, username: username!, password: rest.join(":") };
      }),
    );
    const endpoint = pulumi.interpolate`registry.digitalocean.com/${registryName}`;
    const image = serverImage(name, { imageName: pulumi.interpolate`${endpoint}/${prefix}-server:latest`, nodeImage: cfg.nodeImage, buildContext, registry: auth }, this);
    const caddy = mirrorImage(`${name}-caddy`, { source: cfg.caddyImage, target: pulumi.interpolate`${endpoint}/${prefix}-caddy:${mirrorTag(cfg.caddyImage)}`, registry: auth }, this);
    return { image, caddy, registryCredentials: pull.dockerCredentials };
  }

  private createVolume(name: string, cfg: StackConfig, region: string, volumeName: string) {
    return new digitalocean.Volume(
      `${name}-data`,
      { name: volumeName, region, size: cfg.volumeSizeGb, description: `${name} sync server data` },
      // The data lives here: never deleted by `pulumi destroy`, never silently replaced.
      { parent: this, protect: true, retainOnDelete: true, ignoreChanges: FILESYSTEM_READ_BACK },
    );
  }

  /**
   * A new volume from a volume snapshot (config `restoreFromSnapshot`), under its own
   * logical name and volume name (names are unique per region; the name is also the
   * device path), so the original is neither replaced nor touched: `snapshot_id` and
   * `name` are ForceNew on digitalocean_volume (terraform-provider-digitalocean
   * digitalocean/volume/resource_volume.go).
   */
  private createRestoredVolume(name: string, prefix: string, cfg: StackConfig, region: string, snapshotId: string) {
    const slug = snapshotSlug(snapshotId);
    const volumeName = shortName(`${prefix}-data-${slug}`, 64);
    const volume = new digitalocean.Volume(
      `${name}-data-${slug}`,
      { name: volumeName, region, size: cfg.volumeSizeGb, snapshotId, description: `${name} sync server data, restored from snapshot ${snapshotId}` },
      { parent: this, protect: true, retainOnDelete: true, ignoreChanges: FILESYSTEM_READ_BACK },
    );
    return { volume, volumeName };
  }

  private createDroplet(
    name: string,
    prefix: string,
    cfg: StackConfig,
    deps: {
      region: string;
      image: ReturnType<SyncServer["createImages"]>["image"];
      caddy: pulumi.Output<string>;
      tag: digitalocean.Tag;
      vpcUuid: pulumi.Output<string>;
      registryCredentials: pulumi.Output<string>;
      volume: digitalocean.Volume;
      volumeName: string;
      host: pulumi.Output<string>;
      token: pulumi.Output<string>;
      adminToken: pulumi.Output<string>;
    },
  ) {
    const snapshotToken = pulumi.secret(cfg.doSnapshotToken!);
    const userData = pulumi
      .all([deps.image.repoDigest, deps.caddy, deps.host, deps.token, deps.adminToken, deps.registryCredentials, deps.volume.id, snapshotToken])
      .apply(([image, caddyImage, host, token, adminToken, dockerConfig, volumeId, doToken]) =>
        renderVmUserData(cfg, {
          image,
          caddyImage,
          hostname: host,
          // DigitalOcean has no secret store a Droplet can read with its own identity: the
          // secrets ride in user data, and DOCKER-USER keeps containers off the metadata service.
          secrets: { kind: "inline", token, adminToken },
          devicePaths: [doVolumePath(deps.volumeName)],
          registry: { kind: "docker-config", json: dockerConfig },
          files: [
            { path: SNAPSHOT_SCRIPT, permissions: "0755", content: renderSnapshotScript() },
            { path: SNAPSHOT_ENV, permissions: "0600", content: renderSnapshotEnv(doToken, volumeId, cfg.snapshotRetain) },
          ],
          units: snapshotUnits(cfg.snapshotSchedule),
          extraPackages: ["jq"],
        }),
      );
    return new digitalocean.Droplet(
      `${name}-vm`,
      {
        name: `${prefix}-vm`,
        image: DO_IMAGE,
        region: deps.region,
        vpcUuid: deps.vpcUuid,
        size: cfg.instanceSize ?? DEFAULT_SIZE,
        userData: pulumi.secret(userData),
        monitoring: true,
        ipv6: true,
        // On delete the provider shuts the Droplet down (the stack drains), then detaches
        // the volumes in volumeIds, then deletes: the disk never leaves a running server.
        gracefulShutdown: true,
        volumeIds: [deps.volume.id],
        tags: [deps.tag.id],
      },
      // User data changes (a new image digest) replace the Droplet, old one first; the new one attaches the same volume.
      // A change of volume (a restore) replaces it too: the provider's in-place update of
      // volume_ids attaches the new volume and detaches the old one from the running
      // Droplet (resource_droplet.go resourceDigitalOceanDropletUpdate), with no shutdown.
      { parent: this, deleteBeforeReplace: true, replaceOnChanges: ["volumeIds"], customTimeouts: { delete: DELETE_TIMEOUT } },
    );
  }

  private createFirewall(name: string, prefix: string, cfg: StackConfig, tag: digitalocean.Tag) {
    const anywhere = ["0.0.0.0/0", "::/0"];
    return new digitalocean.Firewall(
      `${name}-fw`,
      {
        name: `${prefix}-fw`,
        tags: [tag.id],
        // Only what listens: TCP 80 and 443 (no UDP: HTTP/3 is not published).
        inboundRules: [
          { protocol: "tcp", portRange: "80", sourceAddresses: anywhere },
          { protocol: "tcp", portRange: "443", sourceAddresses: anywhere },
          ...(cfg.sshCidrs.length > 0 ? [{ protocol: "tcp", portRange: "22", sourceAddresses: [...cfg.sshCidrs] }] : []),
        ],
        outboundRules: [
          { protocol: "tcp", portRange: "1-65535", destinationAddresses: anywhere },
          { protocol: "udp", portRange: "1-65535", destinationAddresses: anywhere },
          { protocol: "icmp", destinationAddresses: anywhere },
        ],
      },
      { parent: this },
    );
  }

  private createDns(name: string, zone: string, domain: string, ip: pulumi.Output<string>) {
    const record = domain === zone ? "@" : domain.slice(0, -(zone.length + 1));
    return new digitalocean.DnsRecord(`${name}-dns`, { domain: zone, name: record, type: "A", value: ip, ttl: 300 }, { parent: this });
  }
}
