import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_HTTP_PORT, DEFAULT_HTTPS_PORT, type StackConfig } from "../config";
import type { SyncServerArgs } from "../contract";
import { renderCaddyfile } from "../render/caddyfile";
import { renderCompose } from "../render/compose";
import { serverImage } from "../shared/image";
import { SyncServerBase } from "../shared/sync-server-base";
import { accessToken, adminToken } from "../shared/token";
import { buildLabel } from "../shared/user-data";
import { SERVICE, serverEnvironment, serverSecrets, SNAPSHOT_TAG, websocketUrl } from "../spec";
import { type ContainerSpec, containerSpec } from "./from-compose";

export const DOCKER_TYPE = "athens-sync:docker:SyncServer";

const CADDYFILE_IN_CONTAINER = "/etc/caddy/Caddyfile";

/**
 * The sync server on this machine's Docker engine: the same image, compose layout and
 * Caddyfile as the VMs, with named volumes standing in for the block volume and
 * Caddy's local CA (`tls internal`) for certificates.
 */
export class SyncServer extends SyncServerBase {
  constructor(name: string, args: SyncServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(DOCKER_TYPE, name, {}, opts);
    const cfg = args.config;
    const prefix = `${pulumi.getStack()}-${name}`;
    const host = cfg.domain ?? "localhost";
    const httpsPort = cfg.httpsPort ?? DEFAULT_HTTPS_PORT;

    const image = serverImage(name, { imageName: `athens-sync-server:${pulumi.getStack()}`, nodeImage: cfg.nodeImage, buildContext: args.buildContext }, this);
    const network = new docker.Network(`${name}-net`, { name: `${prefix}-net` }, { parent: this });
    const volumes = this.createVolumes(name, prefix);
    const token = accessToken(name, this);
    const admin = adminToken(name, this);

    const compose = image.repoDigest.apply((ref) =>
      renderCompose({
        image: ref,
        caddyImage: cfg.caddyImage,
        environment: serverEnvironment(cfg, buildLabel(ref)),
        envFile: "server.env",
        caddyfile: CADDYFILE_IN_CONTAINER,
        // Named volumes (no leading slash) in place of the VM's directories on the block volume.
        dirs: { data: `${prefix}-data`, backups: `${prefix}-backups`, caddy: `${prefix}-caddy` },
        ports: { http: cfg.httpPort ?? DEFAULT_HTTP_PORT, https: httpsPort },
      }),
    );
    const server = this.createServerContainer(name, prefix, cfg, { compose, network, volumes, token, adminToken: admin });
    // The container's 443 is published as httpsPort: the HTTP→HTTPS redirect must name it.
    const caddyfile = renderCaddyfile({ hostname: host, tls: cfg.tls ?? "internal", acmeEmail: cfg.acmeEmail, publicHttpsPort: httpsPort });
    this.createCaddyContainer(name, prefix, cfg, { compose, network, volumes, caddyfile, dependsOn: server });

    this.publish({
      url: pulumi.output(websocketUrl(host, httpsPort)),
      hostname: pulumi.output(host),
      ip: pulumi.output("127.0.0.1"),
      volumeId: volumes.data.name,
      token,
      image: image.repoDigest,
      adminToken: admin,
      cloud: pulumi.output("docker" as const),
      region: pulumi.output("local"),
      instanceId: server.name,
      container: server.name,
      // No volume snapshots here (restoreFromSnapshot is refused by the config): the server's backups are the way back.
      retainedVolumeIds: pulumi.output([]),
      snapshotTag: pulumi.output({ key: SNAPSHOT_TAG, value: prefix }),
    });
  }

  private createVolumes(name: string, prefix: string) {
    // Named volumes stand in for the block volume; `pulumi destroy` leaves them alone.
    const keep = { parent: this, protect: true, retainOnDelete: true };
    return {
      data: new docker.Volume(`${name}-data`, { name: `${prefix}-data` }, keep),
      backups: new docker.Volume(`${name}-backups`, { name: `${prefix}-backups` }, keep),
      caddy: new docker.Volume(`${name}-caddy`, { name: `${prefix}-caddy` }, keep),
    };
  }

  private createServerContainer(
    name: string,
    prefix: string,
    cfg: StackConfig,
    deps: { compose: pulumi.Output<Record<string, unknown>>; network: docker.Network; volumes: ReturnType<SyncServer["createVolumes"]>; token: pulumi.Output<string>; adminToken: pulumi.Output<string> },
  ) {
    const spec = deps.compose.apply((c) => containerSpec(c, SERVICE.server));
    return new docker.Container(
      `${name}-server`,
      {
        name: `${prefix}-server`,
        image: spec.image,
        envs: pulumi.all([spec, deps.token, deps.adminToken]).apply(([s, token, admin]) => envList({ ...s.env, ...serverSecrets(token, cfg.jwtSecret, admin) })),
        networksAdvanced: [{ name: deps.network.name, aliases: [SERVICE.server] }],
        volumes: namedVolumes(spec),
        ...lifecycle(spec),
      },
      { parent: this, dependsOn: [deps.volumes.data, deps.volumes.backups], deleteBeforeReplace: true },
    );
  }

  private createCaddyContainer(
    name: string,
    prefix: string,
    cfg: StackConfig,
    deps: { compose: pulumi.Output<Record<string, unknown>>; network: docker.Network; volumes: ReturnType<SyncServer["createVolumes"]>; caddyfile: string; dependsOn: pulumi.Resource },
  ) {
    const spec = deps.compose.apply((c) => containerSpec(c, SERVICE.proxy));
    return new docker.Container(
      `${name}-caddy`,
      {
        name: `${prefix}-caddy`,
        image: cfg.caddyImage,
        networksAdvanced: [{ name: deps.network.name, aliases: [SERVICE.proxy] }],
        ports: spec.ports.apply((ports) => ports.map((p) => ({ internal: p.internal, external: p.external }))),
        // The compose file bind-mounts the Caddyfile from the VM's disk; here it is uploaded.
        volumes: namedVolumes(spec),
        uploads: [{ file: CADDYFILE_IN_CONTAINER, content: deps.caddyfile }],
        ...lifecycle(spec),
      },
      { parent: this, dependsOn: [deps.dependsOn, deps.volumes.caddy], deleteBeforeReplace: true },
    );
  }
}

function namedVolumes(spec: pulumi.Output<ContainerSpec>) {
  return spec.volumes.apply((vs) => vs.filter((v) => v.named).map((v) => ({ volumeName: v.source, containerPath: v.target, readOnly: v.readOnly })));
}

function envList(env: Record<string, string>): string[] {
  return Object.entries(env).map(([k, v]) => `${k}=${v}`);
}

/** Restart policy, healthcheck and stop behaviour, straight from the compose service. */
function lifecycle(spec: pulumi.Output<ContainerSpec>) {
  return {
    restart: spec.restart,
    healthcheck: spec.healthcheck,
    stopSignal: spec.stopSignal,
    stopTimeout: spec.stopTimeout,
    destroyGraceSeconds: spec.apply((s) => s.stopTimeout ?? 10),
    mustRun: true,
    readOnly: spec.readOnly,
    securityOpts: spec.securityOpts.apply((o) => [...o]),
    capabilities: spec.capabilities.apply((c) => ({ adds: [...c.adds], drops: [...c.drops] })),
    memory: spec.memoryMb,
    tmpfs: spec.tmpfs.apply((t) => ({ ...t })),
    logDriver: "json-file",
    logOpts: { "max-size": "10m", "max-file": "5" },
  };
}
