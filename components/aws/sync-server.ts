import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../config";
import type { SyncServerArgs } from "../contract";
import { mirrorImage, mirrorTag, serverImage } from "../shared/image";
import { SyncServerBase } from "../shared/sync-server-base";
import { snapshotSlug } from "../snapshot-id";
import { accessToken, adminToken } from "../shared/token";
import { renderEnvFile } from "../render/compose";
import { renderVmUserData, secretVersionFile } from "../shared/user-data";
import { hostname, serverSecrets, SNAPSHOT_TAG, snapshotEveryHours, stackPrefix, websocketUrl } from "../spec";
import { commercialRegion, DEBIAN_OWNER } from "./region";
import { renderAwsSecretFetch, SECRET_FETCH } from "./secret-fetch";
import { renderSsmAgentInstall, SSM_AGENT_INSTALL, ssmAgentUnits } from "./ssm-agent";

export const AWS_TYPE = "athens-sync:aws:SyncServer";

const DEFAULT_INSTANCE = "t3.small";
const DEVICE_NAME = "/dev/sdf";
/** Debian 13: docker.io and Compose v2 (docker-compose 2.x) straight from Debian. */
export const DEBIAN_AMI_NAME = "debian-13-amd64-*";
const VPC_CIDR = "10.80.0.0/16";
const SUBNET_CIDR = "10.80.1.0/24";

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
    // Every name and tag carries the stack: two stacks in one account never share a resource.
    const prefix = stackPrefix(pulumi.getStack(), name);
    const network = this.createNetwork(name, prefix, cfg);

    const { repo, image, caddy } = this.createImages(name, prefix, cfg, args.buildContext);
    // The original volume is always declared: during a restore it stays, unattached, protected and retained.
    const original = this.createVolume(name, prefix, cfg, network.az);
    const restored = cfg.restoreFromSnapshot ? this.createRestoredVolume(name, prefix, cfg, network.az, cfg.restoreFromSnapshot) : undefined;
    const volume = restored ?? original;
    const eip = new aws.ec2.Eip(`${name}-ip`, { domain: "vpc", tags: { Name: `${prefix}-ip` } }, { parent: this });
    const securityGroup = this.createSecurityGroup(name, prefix, cfg, network.vpcId);
    const token = accessToken(name, this);
    const admin = adminToken(name, this);
    const secret = this.createSecret(name, prefix, cfg, token, admin);
    const profile = this.createInstanceProfile(name, prefix, repo, secret.secret);
    const host = eip.publicIp.apply((ip) => hostname(cfg, ip));
    // Resolved at preview: a region outside the commercial partition fails the program
    // there, and gates the AMI lookup and the user data, before anything is created.
    const region = pulumi
      .all([aws.getRegionOutput({}, { parent: this }).region, aws.getPartitionOutput({}, { parent: this }).partition])
      .apply(([r, partition]) => commercialRegion(r, partition));
    // The user data names the attached volume's device, so a restore also replaces the VM
    // (userDataReplaceOnChange): the attachment below is never swapped under a running VM.
    const vm = this.createVm(name, prefix, cfg, { network, image, caddy, volume, securityGroup, profile, host, secret, region });
    new aws.ec2.EipAssociation(`${name}-ip-assoc`, { instanceId: vm.id, allocationId: eip.allocationId }, { parent: this });
    new aws.ec2.VolumeAttachment(
      `${name}-data-attach`,
      // Stop the VM before detaching, so its stack drains on SIGTERM and unmounts cleanly.
      { instanceId: vm.id, volumeId: volume.id, deviceName: DEVICE_NAME, stopInstanceBeforeDetaching: true },
      { parent: this, deleteBeforeReplace: true },
    );
    if (cfg.dnsZone) this.createDns(name, cfg.dnsZone, cfg.domain!, eip.publicIp);
    this.createSnapshotSchedule(name, prefix, cfg);

    this.publish({
      url: host.apply((h) => websocketUrl(h)),
      hostname: host,
      ip: eip.publicIp,
      volumeId: volume.id,
      token,
      image: image.repoDigest,
      adminToken: admin,
      cloud: pulumi.output("aws" as const),
      region,
      instanceId: vm.id,
      retainedVolumeIds: restored ? pulumi.all([original.id]) : pulumi.output([]),
      snapshotTag: pulumi.output({ key: SNAPSHOT_TAG, value: prefix }),
    });
  }

  /**
   * An existing subnet (config `network`), or a VPC of the stack's own: no default VPC is
   * assumed (many accounts have none). The VM gets its public address from the Elastic IP.
   */
  private createNetwork(name: string, prefix: string, cfg: StackConfig): { vpcId: pulumi.Output<string>; subnetId: pulumi.Output<string>; az: pulumi.Output<string> } {
    if (cfg.network) {
      const subnet = aws.ec2.getSubnetOutput({ id: cfg.network }, { parent: this });
      return { vpcId: subnet.vpcId, subnetId: subnet.id, az: subnet.availabilityZone };
    }
    const az = cfg.zone ? pulumi.output(cfg.zone) : aws.getAvailabilityZonesOutput({ state: "available" }, { parent: this }).names.apply((n) => n[0]!);
    const vpc = new aws.ec2.Vpc(`${name}-vpc`, { cidrBlock: VPC_CIDR, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: `${prefix}-vpc` } }, { parent: this });
    const gateway = new aws.ec2.InternetGateway(`${name}-igw`, { vpcId: vpc.id, tags: { Name: `${prefix}-igw` } }, { parent: this });
    const subnet = new aws.ec2.Subnet(`${name}-subnet`, { vpcId: vpc.id, cidrBlock: SUBNET_CIDR, availabilityZone: az, mapPublicIpOnLaunch: true, tags: { Name: `${prefix}-subnet` } }, { parent: this });
    const routes = new aws.ec2.RouteTable(`${name}-routes`, { vpcId: vpc.id, routes: [{ cidrBlock: "0.0.0.0/0", gatewayId: gateway.id }], tags: { Name: `${prefix}-routes` } }, { parent: this });
    new aws.ec2.RouteTableAssociation(`${name}-routes-assoc`, { subnetId: subnet.id, routeTableId: routes.id }, { parent: this });
    return { vpcId: vpc.id, subnetId: subnet.id, az };
  }

  private createImages(name: string, prefix: string, cfg: StackConfig, buildContext?: string) {
    const repo = new aws.ecr.Repository(
      `${name}-repo`,
      // forceDelete: `pulumi destroy` removes the repository with its images (they are rebuilt from server/).
      { name: prefix, imageTagMutability: "MUTABLE", imageScanningConfiguration: { scanOnPush: true }, forceDelete: true, tags: { Name: prefix } },
      { parent: this },
    );
    const auth = aws.ecr.getAuthorizationTokenOutput({ registryId: repo.registryId }, { parent: this });
    const registry = { server: repo.repositoryUrl, username: auth.userName, password: pulumi.secret(auth.password) };
    const image = serverImage(name, { imageName: pulumi.interpolate`${repo.repositoryUrl}:server`, nodeImage: cfg.nodeImage, buildContext, registry }, this);
    const caddy = mirrorImage(`${name}-caddy`, { source: cfg.caddyImage, target: pulumi.interpolate`${repo.repositoryUrl}:caddy-${mirrorTag(cfg.caddyImage)}`, registry }, this);
    return { repo, image, caddy };
  }

  private createVolume(name: string, prefix: string, cfg: StackConfig, az: pulumi.Input<string>) {
    return new aws.ebs.Volume(
      `${name}-data`,
      {
        availabilityZone: az,
        size: cfg.volumeSizeGb,
        type: "gp3",
        encrypted: true,
        tags: { Name: `${prefix}-data`, [SNAPSHOT_TAG]: prefix },
      },
      // The data lives here: never deleted by `pulumi destroy`, never silently replaced.
      { parent: this, protect: true, retainOnDelete: true },
    );
  }

  /**
   * A new volume from a snapshot (config `restoreFromSnapshot`), under its own logical
   * name and Name tag, so the original is neither replaced nor touched: `snapshot_id` is
   * ForceNew on aws_ebs_volume (terraform-provider-aws internal/service/ec2/ebs_volume.go).
   * It joins the stack's snapshot schedule (the DLM target tag) like the original.
   */
  private createRestoredVolume(name: string, prefix: string, cfg: StackConfig, az: pulumi.Input<string>, snapshotId: string) {
    const slug = snapshotSlug(snapshotId);
    return new aws.ebs.Volume(
      `${name}-data-${slug}`,
      {
        availabilityZone: az,
        snapshotId,
        size: cfg.volumeSizeGb,
        type: "gp3",
        encrypted: true,
        tags: { Name: `${prefix}-data-${slug}`, [SNAPSHOT_TAG]: prefix, [`${SNAPSHOT_TAG}-restored-from`]: snapshotId },
      },
      { parent: this, protect: true, retainOnDelete: true },
    );
  }

  private createSecurityGroup(name: string, prefix: string, cfg: StackConfig, vpcId: pulumi.Output<string>) {
    const web = [80, 443].map((port) => ({ protocol: "tcp", fromPort: port, toPort: port, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"], description: port === 80 ? "HTTP for ACME and the redirect" : "HTTPS and WSS" }));
    const ssh = cfg.sshCidrs.length > 0 ? [{ protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: [...cfg.sshCidrs], description: "SSH from configured CIDRs" }] : [];
    return new aws.ec2.SecurityGroup(
      `${name}-sg`,
      {
        vpcId,
        description: `${prefix} HTTP and HTTPS in, SSH only from sshCidrs`,
        // Only what listens: TCP 80 and 443 (no UDP: HTTP/3 is not published).
        ingress: [...web, ...ssh],
        egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"], ipv6CidrBlocks: ["::/0"] }],
        tags: { Name: `${prefix}-sg` },
      },
      { parent: this },
    );
  }

  /**
   * The server's env file (token, JWT secret, admin token) in Secrets Manager, readable by
   * the instance role alone; the VM fetches it at boot (secret-fetch.ts), so the user data,
   * which `ec2:DescribeInstanceAttribute` returns to any read-only principal, carries no
   * secret. AWS's managed key (aws/secretsmanager) encrypts it: its key policy lets any
   * principal of the account decrypt through Secrets Manager, so the role needs no KMS
   * grant, and GetSecretValue, which no read-only managed policy holds, is the gate.
   * Deleted at once on `pulumi destroy` (recovery window 0): with the default 30 days, the
   * name stays taken and the next `pulumi up` of the stack fails. The tokens live on in
   * the stack's state, so nothing is lost.
   */
  private createSecret(name: string, prefix: string, cfg: StackConfig, token: pulumi.Output<string>, admin: pulumi.Output<string>) {
    const secretName = `${prefix}/server-env`;
    const secret = new aws.secretsmanager.Secret(
      `${name}-env`,
      { name: secretName, description: `${prefix} sync server env file (token, JWT secret, admin token)`, recoveryWindowInDays: 0, tags: { Name: `${prefix}-env` } },
      { parent: this },
    );
    const version = new aws.secretsmanager.SecretVersion(
      `${name}-env-version`,
      { secretId: secret.id, secretString: pulumi.secret(pulumi.all([token, admin]).apply(([t, a]) => renderEnvFile(serverSecrets(t, cfg.jwtSecret, a)))) },
      { parent: this },
    );
    return { secret, version, name: secretName };
  }

  private createInstanceProfile(name: string, prefix: string, repo: aws.ecr.Repository, secret: aws.secretsmanager.Secret) {
    const role = new aws.iam.Role(
      `${name}-role`,
      { assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] }), tags: { Name: `${prefix}-role` } },
      { parent: this },
    );
    // Session Manager (the shell) needs the managed core policy.
    new aws.iam.RolePolicyAttachment(`${name}-role-ssm`, { role: role.name, policyArn: "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore" }, { parent: this });
    // Pull only from this stack's repository; the token call cannot be scoped to a resource.
    new aws.iam.RolePolicy(
      `${name}-role-ecr`,
      {
        role: role.name,
        policy: repo.arn.apply((arn) =>
          JSON.stringify({
            Version: "2012-10-17",
            Statement: [
              { Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
              { Effect: "Allow", Action: ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"], Resource: arn },
            ],
          }),
        ),
      },
      { parent: this },
    );
    // Read this stack's secret, nothing else.
    const secretGrant = new aws.iam.RolePolicy(
      `${name}-role-secret`,
      {
        role: role.name,
        policy: secret.arn.apply((arn) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: arn }] })),
      },
      { parent: this },
    );
    const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags: { Name: `${prefix}-profile` } }, { parent: this });
    return { profile, secretGrant };
  }

  private createVm(
    name: string,
    prefix: string,
    cfg: StackConfig,
    deps: {
      network: ReturnType<SyncServer["createNetwork"]>;
      image: ReturnType<SyncServer["createImages"]>["image"];
      caddy: pulumi.Output<string>;
      volume: aws.ebs.Volume;
      securityGroup: aws.ec2.SecurityGroup;
      profile: ReturnType<SyncServer["createInstanceProfile"]>;
      host: pulumi.Output<string>;
      secret: ReturnType<SyncServer["createSecret"]>;
      region: pulumi.Output<string>;
    },
  ) {
    // The owner waits for the region's partition check: outside the commercial partition the
    // lookup would fail first, with "Your query returned no results" and no cause.
    const ami = aws.ec2.getAmiOutput(
      { mostRecent: true, owners: [deps.region.apply(() => DEBIAN_OWNER)], filters: [{ name: "name", values: [DEBIAN_AMI_NAME] }, { name: "architecture", values: ["x86_64"] }] },
      { parent: this },
    );
    const userData = pulumi
      .all([deps.image.repoDigest, deps.caddy, deps.host, deps.volume.id, deps.region, deps.secret.version.versionId])
      .apply(([image, caddyImage, host, volumeId, region, secretVersion]) =>
        renderVmUserData(cfg, {
          image,
          caddyImage,
          hostname: host,
          // Fetched at boot from Secrets Manager with the instance role.
          secrets: { kind: "fetch", command: SECRET_FETCH },
          files: [
            { path: SECRET_FETCH, permissions: "0700", content: renderAwsSecretFetch(region, deps.secret.name) },
            secretVersionFile(secretVersion),
            { path: SSM_AGENT_INSTALL, permissions: "0755", content: renderSsmAgentInstall(region) },
          ],
          units: ssmAgentUnits(),
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
        availabilityZone: deps.network.az,
        subnetId: deps.network.subnetId,
        vpcSecurityGroupIds: [deps.securityGroup.id],
        iamInstanceProfile: deps.profile.profile.name,
        // Not a secret: it holds none (the env file is fetched at boot), and a PR preview
        // must show what changed in it, since a change replaces the VM.
        userData,
        // A new image digest means new user data: a fresh VM, re-attached to the same volume.
        userDataReplaceOnChange: true,
        metadataOptions: { httpTokens: "required", httpEndpoint: "enabled", httpPutResponseHopLimit: 1 },
        rootBlockDevice: { encrypted: true, volumeType: "gp3", volumeSize: 16 },
        tags: { Name: `${prefix}-vm` },
      },
      // The volume can be attached to one instance at a time: the old VM goes first.
      // A newer Debian AMI alone does not replace a running server.
      // The secret's version and the role's grant to read it exist before the VM boots and
      // fetches it (IAM may take a few seconds more to apply the grant: the fetch retries).
      { parent: this, deleteBeforeReplace: true, ignoreChanges: ["ami"], dependsOn: [deps.secret.version, deps.profile.secretGrant] },
    );
  }

  private createDns(name: string, zone: string, domain: string, ip: pulumi.Output<string>) {
    const hostedZone = aws.route53.getZoneOutput({ name: zone, privateZone: false }, { parent: this });
    return new aws.route53.Record(`${name}-dns`, { zoneId: hostedZone.zoneId, name: domain, type: "A", ttl: 300, records: [ip] }, { parent: this });
  }

  private createSnapshotSchedule(name: string, prefix: string, cfg: StackConfig) {
    const role = new aws.iam.Role(
      `${name}-dlm-role`,
      { assumeRolePolicy: JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "dlm.amazonaws.com" }, Action: "sts:AssumeRole" }] }), tags: { Name: `${prefix}-dlm-role` } },
      { parent: this },
    );
    new aws.iam.RolePolicyAttachment(`${name}-dlm-policy`, { role: role.name, policyArn: "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole" }, { parent: this });
    const every = snapshotEveryHours(cfg);
    return new aws.dlm.LifecyclePolicy(
      `${name}-snapshots`,
      {
        // DLM allows only letters, digits, spaces, dashes and underscores here.
        description: `${prefix} data volume ${cfg.snapshotSchedule} snapshots keep ${cfg.snapshotRetain}`,
        executionRoleArn: role.arn,
        state: "ENABLED",
        policyDetails: {
          resourceTypes: ["VOLUME"],
          // Stack-unique: this policy snapshots this stack's volume and no other.
          targetTags: { [SNAPSHOT_TAG]: prefix },
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
        tags: { Name: `${prefix}-snapshots` },
      },
      { parent: this },
    );
  }
}
