import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { SyncServerArgs } from "../contract";
import { serverImage } from "../shared/image";
import { SyncServerBase } from "../shared/sync-server-base";
import { accessToken } from "../shared/token";
import { renderVmUserData } from "../shared/user-data";
import { hostname, SNAPSHOT_TAG, snapshotEveryHours, websocketUrl } from "../spec";

export const AWS_TYPE = "athens-sync:aws:SyncServer";

/** Debian's own AWS account, which publishes the official Debian AMIs. */
const DEBIAN_OWNER = "136693071363";
const DEFAULT_INSTANCE = "t3.small";
const DEVICE_NAME = "/dev/sdf";

/** On Nitro instances EBS volumes are NVMe devices named after the volume id without its dash. */
export function ebsDevicePaths(volumeId: string): string[] {
  return [`/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${volumeId.replace("-", "")}`, "/dev/xvdf"];
}

/**
 * The sync server on AWS: ECR + image, an EC2 instance (Debian 12, IMDSv2, SSM, no SSH
 * key), an encrypted gp3 volume that outlives the instance, an Elastic IP, a security
 * group, optional Route53 record, and a DLM snapshot schedule.
 */
export class SyncServer extends SyncServerBase {
  constructor(name: string, args: SyncServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super(AWS_TYPE, name, {}, opts);
    const cfg = args.config;
    const az = cfg.zone ?? aws.getAvailabilityZonesOutput({ state: "available" }, { parent: this }).names.apply((n) => n[0]!);

    const image = this.createImage(name, cfg, args.buildContext);
    const volume = this.createVolume(name, cfg, az);
    const eip = new aws.ec2.Eip(`${name}-ip`, { domain: "vpc", tags: { Name: `${name}-ip` } }, { parent: this });
    const securityGroup = this.createSecurityGroup(name, cfg);
    const profile = this.createInstanceProfile(name);
    const token = accessToken(name, this);
    const host = eip.publicIp.apply((ip) => hostname(cfg, ip));
    const vm = this.createVm(name, cfg, { az, image, volume, securityGroup, profile, host, token });
    new aws.ec2.EipAssociation(`${name}-ip-assoc`, { instanceId: vm.id, allocationId: eip.allocationId }, { parent: this });
    new aws.ec2.VolumeAttachment(
      `${name}-data-attach`,
      // Stop the VM before detaching, so its stack drains on SIGTERM and unmounts cleanly.
      { instanceId: vm.id, volumeId: volume.id, deviceName: DEVICE_NAME, stopInstanceBeforeDetaching: true },
      { parent: this, deleteBeforeReplace: true },
    );
    if (cfg.dnsZone) this.createDns(name, cfg.dnsZone, cfg.domain!, eip.publicIp);
    this.createSnapshotSchedule(name, cfg);

    this.publish({ url: host.apply((h) => websocketUrl(h)), hostname: host, ip: eip.publicIp, volumeId: volume.id, token, image: image.repoDigest });
  }

  private createImage(name: string, cfg: StackConfig, buildContext?: string) {
    const repo = new aws.ecr.Repository(
      `${name}-repo`,
      { imageTagMutability: "MUTABLE", imageScanningConfiguration: { scanOnPush: true }, forceDelete: false },
      { parent: this },
    );
    const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, { parent: this });
    return serverImage(
      name,
      {
        imageName: pulumi.interpolate`${repo.repositoryUrl}:latest`,
        nodeImage: cfg.nodeImage,
        buildContext,
        registry: { server: repo.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) },
      },
      this,
    );
  }

  private createVolume(name: string, cfg: StackConfig, az: pulumi.Input<string>) {
    return new aws.ebs.Volume(
      `${name}-data`,
      {
        availabilityZone: az,
        size: cfg.volumeSizeGb,
        type: "gp3",
        encrypted: true,
        tags: { Name: `${name}-data`, [SNAPSHOT_TAG]: name },
      },
      // The data lives here: never deleted by `pulumi destroy`, never silently replaced.
      { parent: this, protect: true, retainOnDelete: true },
    );
  }

  private createSecurityGroup(name: string, cfg: StackConfig) {
    const web = [80, 443].map((port) => ({ protocol: "tcp", fromPort: port, toPort: port, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"], description: port === 80 ? "HTTP (ACME, redirect)" : "HTTPS/WSS" }));
    const ssh = cfg.sshCidrs.length > 0 ? [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: [...cfg.sshCidrs], description: "SSH from configured CIDRs" }] : [];
    return new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        description: `${name}: HTTP/HTTPS in; SSH only from sshCidrs`,
        ingress: [...web, { protocol: "udp", fromPort: 443, toPort: 443, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"], description: "HTTP/3" }, ...ssh],
        egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
      },
      { parent: this },
    );
  }

  private createInstanceProfile(name: string) {
    const role = new aws.iam.Role(
      `${name}-role`,
      { assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] }) },
      { parent: this },
    );
    for (const [suffix, policy] of [
      ["ssm", "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"],
      ["ecr", "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"],
    ] as const) {
      new aws.iam.RolePolicyAttachment(`${name}-role-${suffix}`, { role: role.name, policyArn: policy }, { parent: this });
    }
    return new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name }, { parent: this });
  }

  private createVm(
    name: string,
    cfg: StackConfig,
    deps: {
      az: pulumi.Input<string>;
      image: ReturnType<SyncServer["createImage"]>;
      volume: aws.ebs.Volume;
      securityGroup: aws.ec2.SecurityGroup;
      profile: aws.iam.InstanceProfile;
      host: pulumi.Output<string>;
      token: pulumi.Output<string>;
    },
  ) {
    const ami = aws.ec2.getAmiOutput(
      { mostRecent: true, owners: [DEBIAN_OWNER], filters: [{ name: "name", values: ["debian-12-amd64-*"] }, { name: "architecture", values: ["x86_64"] }] },
      { parent: this },
    );
    const userData = pulumi
      .all([deps.image.repoDigest, deps.host, deps.token, deps.volume.id])
      .apply(([image, host, token, volumeId]) =>
        renderVmUserData(cfg, {
          image,
          hostname: host,
          token,
          devicePaths: ebsDevicePaths(volumeId),
          // The instance role pulls from ECR through Debian's credential helper: no token expires.
          registry: { kind: "credential-helper", registry: image.split("/")[0]!, helper: "ecr-login", package: "amazon-ecr-credential-helper" },
        }),
      );
    return new aws.ec2.Instance(
      `${name}-vm`,
      {
        ami: ami.id,
        instanceType: cfg.instanceSize ?? DEFAULT_INSTANCE,
        availabilityZone: deps.az,
        vpcSecurityGroupIds: [deps.securityGroup.id],
        iamInstanceProfile: deps.profile.name,
        userData: pulumi.secret(userData),
        // A new image digest means new user data: a fresh VM, re-attached to the same volume.
        userDataReplaceOnChange: true,
        metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
        rootBlockDevice: { encrypted: true, volumeType: "gp3", volumeSize: 16 },
        tags: { Name: `${name}-vm` },
      },
      // The volume can be attached to one instance at a time: the old VM goes first.
      // A newer Debian AMI alone does not replace a running server.
      { parent: this, deleteBeforeReplace: true, ignoreChanges: ["ami"] },
    );
  }

  private createDns(name: string, zone: string, domain: string, ip: pulumi.Output<string>) {
    const hostedZone = aws.route53.getZoneOutput({ name: zone, privateZone: false }, { parent: this });
    return new aws.route53.Record(`${name}-dns`, { zoneId: hostedZone.zoneId, name: domain, type: "A", ttl: 300, records: [ip] }, { parent: this });
  }

  private createSnapshotSchedule(name: string, cfg: StackConfig) {
    const role = new aws.iam.Role(
      `${name}-dlm-role`,
      { assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "dlm.amazonaws.com" }, Action: "sts:AssumeRole" }] }) },
      { parent: this },
    );
    new aws.iam.RolePolicyAttachment(`${name}-dlm-policy`, { role: role.name, policyArn: "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole" }, { parent: this });
    const every = snapshotEveryHours(cfg);
    return new aws.dlm.LifecyclePolicy(
      `${name}-snapshots`,
      {
        description: `${name} data volume snapshots (${cfg.snapshotSchedule}, keep ${cfg.snapshotRetain})`,
        executionRoleArn: role.arn,
        state: "ENABLED",
        policyDetails: {
          resourceTypes: ["VOLUME"],
          targetTags: { [SNAPSHOT_TAG]: name },
          schedules: [
            {
              name: `${cfg.snapshotSchedule} keep ${cfg.snapshotRetain}`,
              createRule: { interval: every, intervalUnit: "HOURS", ...(every === 24 ? { times: "03:00" } : {}) },
              retainRule: { count: cfg.snapshotRetain },
              copyTags: true,
              tagsToAdd: { [SNAPSHOT_TAG + "-by"]: "dlm" },
            },
          ],
        },
      },
      { parent: this },
    );
  }
}
