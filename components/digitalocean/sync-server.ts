import * as digitalocean from "@pulumi/digitalocean";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { SyncServerArgs } from "../contract";
import { serverImage } from "../shared/image";
import { SyncServerBase } from "../shared/sync-server-base";
import { accessToken } from "../shared/token";
import { renderVmUserData } from "../shared/user-data";
import { hostname, websocketUrl } from "../spec";
import { renderSnapshotEnv, renderSnapshotScript, SNAPSHOT_ENV, SNAPSHOT_SCRIPT, snapshotUnits } from "./snapshot-job";

export const DO_TYPE = "athens-sync:digitalocean:SyncServer";

const DEFAULT_REGION = "nyc3";
const DEFAULT_SIZE = "s-1vcpu-2gb";

/** DigitalOcean exposes a volume under its name. */
export function doVolumePath(volumeName: string): string {
  return `/dev/disk/by-id/scsi-0DO_Volume_${volumeName}`;
}

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
    // Volume names are per account and region, and become the device path: include the stack.
    const volumeName = `${pulumi.getStack()}-${name}-data`.toLowerCase().replace(/[^a-z0-9-]/g, "-");

    const { image, registryCredentials } = this.createImage(name, cfg, args.buildContext, region);
    const volume = this.createVolume(name, cfg, region, volumeName);
    const reservedIp = new digitalocean.ReservedIp(`${name}-ip`, { region }, { parent: this });
    const token = accessToken(name, this);
    const host = reservedIp.ipAddress.apply((ip) => hostname(cfg, ip));
    const droplet = this.createDroplet(name, cfg, { region, image, registryCredentials, volume, volumeName, host, token });
    const dropletId = droplet.id.apply(Number);
    new digitalocean.VolumeAttachment(`${name}-data-attach`, { dropletId, volumeId: volume.id }, { parent: this, deleteBeforeReplace: true });
    new digitalocean.ReservedIpAssignment(`${name}-ip-assign`, { ipAddress: reservedIp.ipAddress, dropletId }, { parent: this, deleteBeforeReplace: true });
    this.createFirewall(name, cfg, dropletId);
    if (cfg.dnsZone) this.createDns(name, cfg.dnsZone, cfg.domain!, reservedIp.ipAddress);

    this.publish({ url: host.apply((h) => websocketUrl(h)), hostname: host, ip: reservedIp.ipAddress, volumeId: volume.id, token, image: image.repoDigest });
  }

  private createImage(name: string, cfg: StackConfig, buildContext: string | undefined, region: string) {
    const registry = new digitalocean.ContainerRegistry(`${name}-registry`, { subscriptionTierSlug: "basic", region }, { parent: this });
    const push = new digitalocean.ContainerRegistryDockerCredentials(`${name}-push-creds`, { registryName: registry.name, write: true }, { parent: this });
    // Read-only and non-expiring: the Droplet pulls on every start.
    const pull = new digitalocean.ContainerRegistryDockerCredentials(`${name}-pull-creds`, { registryName: registry.name, write: false }, { parent: this });
    const auth = push.dockerCredentials.apply((json) => {
      const [server, entry] = Object.entries((JSON.parse(json) as { auths: Record<string, { auth: string }> }).auths)[0]!;
      const [username, ...rest] = Buffer.from(entry.auth, "base64").toString("utf8").split(":");
      return { server, username: username!, password: rest.join(":") };
    });
    const image = serverImage(
      name,
      { imageName: pulumi.interpolate`${registry.endpoint}/sync-server:latest`, nodeImage: cfg.nodeImage, buildContext, registry: pulumi.secret(auth) },
      this,
    );
    return { image, registryCredentials: pull.dockerCredentials };
  }

  private createVolume(name: string, cfg: StackConfig, region: string, volumeName: string) {
    return new digitalocean.Volume(
      `${name}-data`,
      { name: volumeName, region, size: cfg.volumeSizeGb, description: `${name} sync server data` },
      // The data lives here: never deleted by `pulumi destroy`, never silently replaced.
      { parent: this, protect: true, retainOnDelete: true },
    );
  }

  private createDroplet(
    name: string,
    cfg: StackConfig,
    deps: {
      region: string;
      image: ReturnType<SyncServer["createImage"]>["image"];
      registryCredentials: pulumi.Output<string>;
      volume: digitalocean.Volume;
      volumeName: string;
      host: pulumi.Output<string>;
      token: pulumi.Output<string>;
    },
  ) {
    const snapshotToken = pulumi.secret(cfg.doSnapshotToken!);
    const userData = pulumi
      .all([deps.image.repoDigest, deps.host, deps.token, deps.registryCredentials, deps.volume.id, snapshotToken])
      .apply(([image, host, token, dockerConfig, volumeId, doToken]) =>
        renderVmUserData(cfg, {
          image,
          hostname: host,
          token,
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
        image: "debian-12-x64",
        region: deps.region,
        size: cfg.instanceSize ?? DEFAULT_SIZE,
        userData: pulumi.secret(userData),
        monitoring: true,
        ipv6: true,
        gracefulShutdown: true,
        tags: [name],
      },
      // User data changes (a new image digest) replace the Droplet; the volume is re-attached.
      { parent: this, deleteBeforeReplace: true },
    );
  }

  private createFirewall(name: string, cfg: StackConfig, dropletId: pulumi.Output<number>) {
    const anywhere = ["0.0.0.0/0", "::/0"];
    return new digitalocean.Firewall(
      `${name}-fw`,
      {
        dropletIds: [dropletId],
        inboundRules: [
          { protocol: "tcp", portRange: "80", sourceAddresses: anywhere },
          { protocol: "tcp", portRange: "443", sourceAddresses: anywhere },
          { protocol: "udp", portRange: "443", sourceAddresses: anywhere },
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
