/**
 * The user data each cloud's VM boots with, rendered by the product itself: the stack
 * program (index.ts) runs under Pulumi mocks with that cloud's config, and the VM
 * resource's user data is taken verbatim. The mocks answer as the cloud would, except
 * that the image digest is the server image this suite pushed to its loopback registry.
 *
 * What each cloud's data disk looks like to the VM is taken from the same resources:
 * the EBS volume id (its NVMe serial), the DigitalOcean volume name, the GCE device name.
 */
import crypto from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { awsPartition, plain } from "../mocks";

export type Cloud = "aws" | "digitalocean" | "gcp";

export interface CloudUserData {
  readonly cloud: Cloud;
  /** The VM resource's user data, exactly as the provider would receive it. */
  readonly userData: string;
  readonly token: string;
  readonly hostname: string;
  /** What names the data disk on this cloud: EBS volume id, DO volume name, GCE device name. */
  readonly diskName: string;
  /**
   * The secrets the VM fetches at boot, as the stack stored them: AWS Secrets Manager's
   * (name -> SecretString), GCP Secret Manager's (secret id -> payload). None on DigitalOcean.
   */
  readonly secrets: Readonly<Record<string, string>>;
}

export const VM_DOMAIN = "sync.vm.test";
/** What the mocks below answer for the AWS region and the GCP project: the cloud stand-ins must name the same. */
export const MOCK_AWS_REGION = "us-east-1";
export const MOCK_GCP_PROJECT = "vm-suite";
/** The loopback registry as the guest reaches it (guestfwd); see qemu.ts. */
export const GUEST_REGISTRY = "10.0.2.101:5000";

/** Images this suite built and pushed, by digest. */
export interface SuiteImages {
  /** The server image's manifest digest (sha256:…). */
  readonly serverDigest: string;
  /** The Caddy image by digest, as the guest pulls it (the stack's `caddyImage` source). */
  readonly caddyRef: string;
  readonly caddyDigest: string;
}

/** `repo[:tag][@digest]` → `repo` (a registry host's port is kept). */
function repositoryOf(ref: string): string {
  const noDigest = ref.split("@")[0]!;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/**
 * Registry hosts the guest reaches at the loopback registry: the address itself (where the
 * mocked ECR repository points), and the hosts DigitalOcean's and GCP's components write
 * into the user data themselves, which the guest image resolves to it
 * (scripts/vm/guest-image.sh).
 */
export const GUEST_REGISTRY_HOSTS = [GUEST_REGISTRY, "registry.digitalocean.com", "us-central1-docker.pkg.dev"];

/** Every image reference in the user data that names a registry the guest reaches here, as [repository, digest]. */
export function loopbackImages(userData: string): Array<[string, string]> {
  const found = new Map<string, [string, string]>();
  const hosts = GUEST_REGISTRY_HOSTS.map((h) => h.replace(/\./g, "\\.")).join("|");
  for (const m of userData.matchAll(new RegExp(`(?:${hosts})/([a-z0-9._/-]+)@(sha256:[0-9a-f]{64})`, "g"))) found.set(m[0], [m[1]!, m[2]!]);
  return [...found.values()];
}
const EBS_VOLUME_ID = "vol-0a5e1c0de5ca1ab1e";

const VM_TYPES: Record<Cloud, string> = {
  aws: "aws:ec2/instance:Instance",
  digitalocean: "digitalocean:index/droplet:Droplet",
  gcp: "gcp:compute/instance:Instance",
};

function configFor(cloud: Cloud, caddyImage: string): Record<string, string> {
  // tls internal: no ACME from a confined network; Caddy's local CA, as `tls: internal` configures.
  const common = { tls: "internal", domain: VM_DOMAIN, caddyImage };
  if (cloud === "aws") return { provider: "aws", ...common };
  if (cloud === "digitalocean") return { provider: "digitalocean", doSnapshotToken: `dop_v1_${"0".repeat(64)}`, ...common };
  return { provider: "gcp", region: "us-central1", ...common };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Inputs = Record<string, any>;

/**
 * The mocks answer as a cloud would after \`pulumi up\`, with the stack's registry (ECR
 * repository, DOCR endpoint) at the loopback registry's guest address, and the image
 * digests of the images this suite built. Where a component builds the registry address
 * itself (GCP's Artifact Registry host), the reference stays unreachable from the guest.
 */
export async function renderCloudUserData(cloud: Cloud, images: SuiteImages): Promise<CloudUserData> {
  const resources: Array<{ type: string; name: string; inputs: Inputs }> = [];
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(configFor(cloud, images.caddyRef)).map(([k, v]) => [`athens-sync:${k}`, v])));
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        resources.push({ type: args.type, name: args.name, inputs: args.inputs });
        const outputs: Inputs = { name: args.name, ...args.inputs };
        if (args.type === "docker:index/image:Image") outputs.repoDigest = `${repositoryOf(String(args.inputs.imageName))}@${images.serverDigest}`;
        // A mirrored Caddy (pull, tag, push to the stack's registry): the digest it gets there.
        if (args.type === "docker:index/remoteImage:RemoteImage") Object.assign(outputs, { repoDigest: images.caddyRef, imageId: images.caddyDigest });
        if (args.type === "docker:index/registryImage:RegistryImage") outputs.sha256Digest = images.caddyDigest;
        if (args.type === "random:index/randomPassword:RandomPassword") outputs.result = crypto.randomBytes(64).toString("hex").slice(0, args.inputs.length ?? 48);
        if (args.type === "aws:ecr/repository:Repository") outputs.repositoryUrl = `${GUEST_REGISTRY}/${args.inputs.name ?? args.name}`;
        if (args.type === "digitalocean:index/containerRegistry:ContainerRegistry") Object.assign(outputs, { endpoint: `${GUEST_REGISTRY}/${args.inputs.name ?? args.name}`, serverUrl: GUEST_REGISTRY });
        if (args.type === "digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials") {
          outputs.dockerCredentials = JSON.stringify({ auths: { "registry.digitalocean.com": { auth: Buffer.from("vm-suite:not-a-real-token").toString("base64") } } });
        }
        if (args.type === "aws:secretsmanager/secretVersion:SecretVersion") outputs.versionId = crypto.randomUUID();
        if (args.type === "gcp:secretmanager/secretVersion:SecretVersion") outputs.name = `projects/${MOCK_GCP_PROJECT}/secrets/${args.inputs.secret}/versions/1`;
        if (args.type === "gcp:serviceaccount/account:Account") outputs.email = `${args.inputs.accountId}@vm-suite.iam.gserviceaccount.com`;
        for (const ip of ["publicIp", "ipAddress", "address"]) outputs[ip] = "127.0.0.1";
        const id = args.type === "aws:ebs/volume:Volume" ? EBS_VOLUME_ID : `${args.name}-id`;
        return { id, state: outputs };
      },
      call: (args) => {
        if (args.token === "aws:index/getRegion:getRegion") return { region: MOCK_AWS_REGION, name: MOCK_AWS_REGION };
        if (args.token === "aws:index/getPartition:getPartition") return awsPartition(MOCK_AWS_REGION);
        if (args.token === "aws:index/getAvailabilityZones:getAvailabilityZones") return { names: [`${MOCK_AWS_REGION}a`] };
        if (args.token === "aws:ec2/getAmi:getAmi") return { id: "ami-vm-suite" };
        if (args.token === "aws:ecr/getAuthorizationToken:getAuthorizationToken") return { userName: "AWS", password: "x", proxyEndpoint: `http://${GUEST_REGISTRY}` };
        if (args.token === "gcp:organizations/getClientConfig:getClientConfig") return { accessToken: "x", project: MOCK_GCP_PROJECT, region: "us-central1", zone: "us-central1-a" };
        return {};
      },
    },
    "athens-sync",
    `vm-${cloud}`,
    false,
  );
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const program = require("../../index") as () => Promise<Record<string, pulumi.Output<unknown> | string>>;
  let outputs: Record<string, pulumi.Output<unknown> | string> = {};
  await pulumi.runtime.runInPulumiStack(async () => {
    outputs = await program();
    return outputs;
  });
  const value = <T>(o: pulumi.Output<unknown> | string) => new Promise<T>((resolve) => (pulumi.Output.isInstance(o) ? o.apply((v) => resolve(v as T)) : resolve(o as T)));
  const token = await value<string>(outputs.token!);
  const hostname = await value<string>(outputs.hostname!);
  // Registrations settle asynchronously after the program returns.
  const deadline = Date.now() + 20_000;
  const find = (type: string) => resources.filter((r) => r.type === type);
  while (find(VM_TYPES[cloud]).length === 0 || !userDataOf(cloud, find(VM_TYPES[cloud])[0]!.inputs)) {
    if (Date.now() > deadline) throw new Error(`the ${cloud} program never registered its VM with user data`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const vm = find(VM_TYPES[cloud]);
  if (vm.length !== 1) throw new Error(`expected one ${VM_TYPES[cloud]}, got ${vm.length}`);
  const userData = userDataOf(cloud, vm[0]!.inputs)!;
  let diskName: string;
  if (cloud === "aws") diskName = EBS_VOLUME_ID;
  else if (cloud === "digitalocean") diskName = String(find("digitalocean:index/volume:Volume")[0]?.inputs.name);
  else diskName = String((plain<Inputs[]>(vm[0]!.inputs.attachedDisks) ?? [])[0]?.deviceName);
  if (!diskName || diskName === "undefined") throw new Error(`no data disk name found for ${cloud}`);
  const secrets: Record<string, string> = {};
  for (const version of find("aws:secretsmanager/secretVersion:SecretVersion")) {
    const secret = resources.find((r) => r.type === "aws:secretsmanager/secret:Secret" && `${r.name}-id` === plain<string>(version.inputs.secretId));
    if (!secret) throw new Error(`no secret for the version ${version.name}`);
    secrets[String(secret.inputs.name)] = plain<string>(version.inputs.secretString);
  }
  for (const version of find("gcp:secretmanager/secretVersion:SecretVersion")) {
    const secret = resources.find((r) => r.type === "gcp:secretmanager/secret:Secret" && `${r.name}-id` === plain<string>(version.inputs.secret));
    if (!secret) throw new Error(`no secret for the version ${version.name}`);
    secrets[String(secret.inputs.secretId)] = plain<string>(version.inputs.secretData);
  }
  if (cloud !== "digitalocean" && Object.keys(secrets).length === 0) throw new Error(`the ${cloud} program registered no secret version`);
  // The root stack registers its outputs after they resolve: let it finish before another
  // render's setMocks replaces the monitor (as test/mocks.ts's runProgram does).
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  return { cloud, userData, token, hostname, diskName, secrets };
}

function userDataOf(cloud: Cloud, inputs: Inputs): string | undefined {
  return cloud === "gcp" ? plain<Inputs | undefined>(inputs.metadata)?.["user-data"] : plain<string | undefined>(inputs.userData);
}
