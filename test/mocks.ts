import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { violations } from "./provider-rules";

export interface Captured {
  type: string;
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  inputs: Record<string, any>;
  opts: pulumi.CustomResourceOptions;
}

export const FAKE_IP = "203.0.113.10";
/** How many resources reached the mock monitor in this process (a failing program's test reads it). */
export const mockStats = { registered: 0 };
export const FAKE_DIGEST = "sha256:" + "ab".repeat(32);

/** A short stand-in id that changes with the content (never the content itself). */
function contentId(value: unknown): string {
  return createHash("sha256").update(String(value)).digest("hex").slice(0, 12);
}

/** Outputs a real provider would compute, keyed by resource type (`name` defaults to the logical name, as auto-naming would). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function computed(type: string, name: string, inputs: Record<string, any>): Record<string, unknown> {
  switch (type) {
    case "docker:index/image:Image":
      return { repoDigest: `${String(inputs.imageName).replace(/:[^:/]+$/, "")}@${FAKE_DIGEST}` };
    case "random:index/randomPassword:RandomPassword":
      // Distinct per password, as real ones are: the admin token must never equal the access token.
      return { result: (name.includes("admin") ? "a" : "t").repeat(inputs.length ?? 48) };
    case "aws:ec2/eip:Eip":
      return { publicIp: FAKE_IP, allocationId: "eipalloc-1" };
    case "aws:ebs/volume:Volume":
      return { arn: "arn:aws:ec2:volume/vol-0123456789abcdef0" };
    case "aws:ecr/repository:Repository":
      return { repositoryUrl: `123456789012.dkr.ecr.us-east-1.amazonaws.com/${inputs.name ?? name}`, registryId: "123456789012", arn: `arn:aws:ecr:us-east-1:123456789012:repository/${inputs.name ?? name}` };
    case "docker:index/remoteImage:RemoteImage":
      return { imageId: `sha256:${"cd".repeat(32)}`, repoDigest: `${String(inputs.name).split("@")[0]}@sha256:${"cd".repeat(32)}` };
    case "docker:index/registryImage:RegistryImage":
      return { sha256Digest: `sha256:${"ef".repeat(32)}` };
    case "digitalocean:index/tag:Tag":
      return {};
    case "gcp:secretmanager/secret:Secret":
      return { name: `projects/proj/secrets/${inputs.secretId}` };
    case "gcp:compute/network:Network":
      return { name: inputs.name ?? name };
    // A new version id for new content, as Secrets Manager and Secret Manager give one per stored version.
    case "aws:secretsmanager/secretVersion:SecretVersion":
      return { versionId: `v-${contentId(plainDeep(inputs.secretString))}` };
    case "gcp:secretmanager/secretVersion:SecretVersion":
      return { name: `projects/proj/secrets/${inputs.secret}/versions/${parseInt(contentId(plainDeep(inputs.secretData)).slice(0, 6), 16)}` };
    case "aws:secretsmanager/secret:Secret":
      return { arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${inputs.name ?? name}-AbCdEf` };
    case "aws:iam/role:Role":
      return { arn: `arn:aws:iam::123456789012:role/${name}`, name };
    case "aws:iam/instanceProfile:InstanceProfile":
      return { name };
    case "digitalocean:index/reservedIp:ReservedIp":
      return { ipAddress: FAKE_IP };
    case "digitalocean:index/containerRegistry:ContainerRegistry":
      return { endpoint: `registry.digitalocean.com/${inputs.name ?? name}`, serverUrl: "registry.digitalocean.com" };
    case "digitalocean:index/containerRegistryDockerCredentials:ContainerRegistryDockerCredentials":
      return { dockerCredentials: JSON.stringify({ auths: { "registry.digitalocean.com": { auth: "dXNlcjpwYXNz" } } }) };
    case "digitalocean:index/volume:Volume":
      return { urn: `do:volume:${name}` };
    case "gcp:compute/address:Address":
      return { address: FAKE_IP };
    case "gcp:artifactregistry/repository:Repository":
      return { name: inputs.repositoryId, location: inputs.location };
    case "gcp:serviceaccount/account:Account":
      return { email: `${inputs.accountId}@proj.iam.gserviceaccount.com` };
    default:
      return {};
  }
}

/** Data-source answers, keyed by function token. */
function called(token: string, args: Record<string, unknown>): Record<string, unknown> {
  switch (token) {
    case "aws:index/getAvailabilityZones:getAvailabilityZones":
      return { names: ["us-east-1a", "us-east-1b"] };
    case "aws:ec2/getAmi:getAmi":
      return { id: "ami-0debian12", name: "debian-12-amd64-20261101" };
    case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
      return { userName: "AWS", password: "ecr-password", proxyEndpoint: "https://123456789012.dkr.ecr.us-east-1.amazonaws.com" };
    case "aws:route53/getZone:getZone":
      return { zoneId: "Z123", name: args.name };
    case "gcp:organizations/getClientConfig:getClientConfig":
      return { accessToken: "gcp-access-token", project: "proj", region: "us-central1", zone: "us-central1-a" };
    case "aws:index/getRegion:getRegion": {
      const region = mockAwsRegion();
      return { region, name: region };
    }
    case "aws:index/getPartition:getPartition":
      return awsPartition(mockAwsRegion());
    case "aws:ec2/getSubnet:getSubnet":
      return { id: args.id, vpcId: "vpc-0existing", availabilityZone: "us-east-1c" };
    case "gcp:compute/getImage:getImage":
      return { selfLink: "projects/debian-cloud/global/images/debian-12" };
    default:
      return {};
  }
}

/** The AWS provider's region: the test's `aws:region`, else us-east-1. */
function mockAwsRegion(): string {
  return pulumi.runtime.getConfig("aws:region") ?? "us-east-1";
}

/**
 * The partition the AWS provider resolves for a region, by the regionRegex of each
 * partition in the AWS SDKs' endpoints model (aws-sdk-go-v2, partitions.json).
 */
const PARTITIONS: ReadonlyArray<{ partition: string; dnsSuffix: string; regex: RegExp }> = [
  { partition: "aws-cn", dnsSuffix: "amazonaws.com.cn", regex: /^cn-\w+-\d+$/ },
  { partition: "aws-us-gov", dnsSuffix: "amazonaws.com", regex: /^us-gov-\w+-\d+$/ },
  { partition: "aws-iso", dnsSuffix: "c2s.ic.gov", regex: /^us-iso-\w+-\d+$/ },
  { partition: "aws-iso-b", dnsSuffix: "sc2s.sgov.gov", regex: /^us-isob-\w+-\d+$/ },
  { partition: "aws", dnsSuffix: "amazonaws.com", regex: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/ },
];

export function awsPartition(region: string): Record<string, string> {
  const p = PARTITIONS.find((x) => x.regex.test(region)) ?? PARTITIONS[PARTITIONS.length - 1]!;
  return { partition: p.partition, id: p.partition, dnsSuffix: p.dnsSuffix };
}

/** EBS ids: the original volume's is fixed (tests name it); a volume from a snapshot gets its own. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function ebsVolumeId(inputs: Record<string, any>): string {
  return inputs.snapshotId ? `vol-0${String(inputs.snapshotId).replace(/[^0-9a-f]/g, "").padEnd(16, "0").slice(0, 16)}` : "vol-0123456789abcdef0";
}

const PENDING: Record<string, never> = Object.freeze({}) as Record<string, never>;

/**
 * Runs a program (by default the stack entry, index.ts) under mocks with the given config and returns
 * every custom resource's inputs and options, plus the stack outputs.
 */
/** Secret wrappers out, recursively: the provider rules see plain values. */
export function plainDeep(value: unknown): unknown {
  if (isSecretInput(value)) return plainDeep((value as { value: unknown }).value);
  if (Array.isArray(value)) return value.map(plainDeep);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainDeep(v)]));
  return value;
}

export class ProviderRuleError extends Error {
  override readonly name = "ProviderRuleError";
}

type Program = () => Promise<Record<string, pulumi.Output<unknown> | string>>;

/** This repository's stack entry (index.ts). Required inside the run, so its resources belong to the stack. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const stackEntry: Program = () => (require("../index") as Program)();

export async function runProgram(config: Record<string, string>, stack = "test", program: Program = stackEntry) {
  const captured: Captured[] = [];
  // Every resource passes the providers' preview-time checks (test/provider-rules.ts).
  const broken: string[] = [];
  // A key with a namespace ("aws:region") is set as it is; the rest are the project's own.
  pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : `athens-sync:${k}`, v])));
  pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        mockStats.registered++;
        broken.push(...violations(args.type, args.name, plainDeep(args.inputs) as Record<string, unknown>));
        const entry = captured.find((r) => r.type === args.type && r.name === args.name);
        if (entry) entry.inputs = args.inputs;
        else captured.push({ type: args.type, name: args.name, inputs: args.inputs, opts: {} });
        const id = args.type === "aws:ebs/volume:Volume" ? ebsVolumeId(args.inputs) : args.type === "digitalocean:index/tag:Tag" ? String(args.inputs.name) : `${args.name}-id`;
        return { id, state: { name: args.name, ...args.inputs, ...computed(args.type, args.name, args.inputs) } };
      },
      call: (args) => called(args.token, args.inputs),
    },
    "athens-sync",
    stack,
    false,
  );
  let outputs: Record<string, pulumi.Output<unknown> | string> = {};
  // Run inside a root stack, as the real runtime does, so a stack transformation can
  // see each resource's options (protect, retainOnDelete...), which mocks never receive.
  await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((args) => {
      if (args.resource instanceof pulumi.CustomResource) {
        captured.push({ type: args.type, name: args.name, inputs: PENDING, opts: args.opts as pulumi.CustomResourceOptions });
      }
      return undefined;
    });
    outputs = await program();
    return outputs;
  });
  const resolved: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(outputs)) resolved[key] = pulumi.Output.isInstance(value) ? await unwrap(value) : value;
  const inputs = await resourceInputs(captured);
  // The root stack registers its outputs after they resolve; the next run's setMocks must
  // not come first (its new mock monitor would not know this stack's URN and throw).
  // waitForRPCs is @internal in the SDK's types, exported at runtime (runtime/settings.js).
  await (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs();
  if (broken.length > 0) throw new ProviderRuleError(`stack ${stack} breaks provider rules:\n${[...new Set(broken)].join("\n")}`);
  return { resources: captured, inputs, outputs, resolved };
}

/** Resolves an Output's value (and whether it is secret) under mocks. */
export function unwrap<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply((v) => resolve(v)));
}

export async function isSecret(output: pulumi.Output<unknown>): Promise<boolean> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return (output as any).isSecret as Promise<boolean>;
}

/** The mock's view of each resource's inputs, filled in as registrations settle. */
async function resourceInputs(captured: Captured[]) {
  // Registrations settle asynchronously: wait until every declared resource reached the mock.
  const deadline = Date.now() + 20_000;
  while (captured.some((r) => r.inputs === PENDING)) {
    if (Date.now() > deadline) throw new Error(`resources never registered: ${captured.filter((r) => r.inputs === PENDING).map((r) => r.name).join(", ")}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return captured;
}

/** Pulumi's marker for a secret value inside resource inputs. */
const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

/** A resource input that was passed as a secret (mocks see it wrapped). */
export function isSecretInput(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** The plain value of an input, secret or not. */
export function plain<T = unknown>(value: unknown): T {
  return (isSecretInput(value) ? (value as { value: unknown }).value : value) as T;
}

/** The captured resources of one type. */
export function byType(resources: readonly Captured[], type: string): Captured[] {
  return resources.filter((r) => r.type === type);
}
