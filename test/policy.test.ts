/**
 * The policy pack (policy/), called the way the CrossGuard analyzer calls it, with the
 * resource inputs and options captured from the mock run of every stack in stacks/: each
 * stack passes every policy. Then one hand-made bad input per policy is reported with
 * its fix-it message.
 */
import fs from "node:fs";
import path from "node:path";
import type { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { POLICIES } from "../policy/policies";
import { type Captured, plainDeep, runProgram } from "./mocks";

const ROOT = path.join(__dirname, "..");
const PROJECT = "athens-sync";

/** Secrets the README has users set with `pulumi config set --secret` rather than commit to a stack file. */
const USER_SET_SECRETS: Record<string, Record<string, string>> = { digitalocean: { doSnapshotToken: "dop_v1_" + "f".repeat(64) } };

/** A stack file's athens-sync:* config as runProgram takes it (objects as JSON, secrets as placeholders). */
export function stackConfig(file: string): Record<string, string> {
  const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (!key.startsWith(`${PROJECT}:`)) continue;
    const k = key.slice(PROJECT.length + 1);
    if (value !== null && typeof value === "object" && "secure" in value) out[k] = k === "doSnapshotToken" ? "dop_v1_" + "f".repeat(64) : "s".repeat(40);
    else out[k] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return { ...USER_SET_SECRETS[out.provider ?? ""], ...out };
}

/** Types from the resource up to (not including) the root stack, as a URN's type chain has them. */
function typeChain(type: string, parent: pulumi.Resource | undefined): string {
  const chain = [type];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  for (let p: any = parent; p; p = p.__parentResource) if (p.__pulumiType !== "pulumi:pulumi:Stack") chain.unshift(p.__pulumiType);
  return chain.join("$");
}

function asPolicyResource(stack: string, r: Captured): PolicyResource {
  return {
    type: r.type,
    name: r.name,
    urn: `urn:pulumi:${stack}::${PROJECT}::${typeChain(r.type, r.opts.parent)}::${r.name}`,
    props: plainDeep(r.inputs) as Record<string, unknown>,
    opts: { protect: r.opts.protect === true, ignoreChanges: r.opts.ignoreChanges ?? [], deleteBeforeReplace: r.opts.deleteBeforeReplace, aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
    dependencies: [],
    propertyDependencies: {},
    isType: () => false,
    asType: () => undefined,
  } as unknown as PolicyResource;
}

function resourceArgs(r: PolicyResource): ResourceValidationArgs {
  return { ...r, stackTags: new Map(), getConfig: () => ({}), notApplicable: () => { throw new Error("not applicable"); } } as unknown as ResourceValidationArgs;
}

type Violation = { policy: string; resource: string; message: string };

async function evaluate(resources: PolicyResource[]): Promise<Violation[]> {
  const violations: Violation[] = [];
  for (const policy of POLICIES) {
    if ("validateResource" in policy && policy.validateResource) {
      const fns = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
      for (const r of resources) for (const fn of fns) await fn(resourceArgs(r), (message) => violations.push({ policy: policy.name, resource: r.name, message }));
    }
    if ("validateStack" in policy && policy.validateStack) {
      await policy.validateStack({ resources, getConfig: () => ({}), notApplicable: () => { throw new Error("n/a"); } } as never, (message, urn) =>
        violations.push({ policy: policy.name, resource: urn ?? "stack", message }),
      );
    }
  }
  return violations;
}

const STACK_FILES = fs.readdirSync(path.join(ROOT, "stacks")).filter((f) => /^Pulumi\..+\.yaml$/.test(f));

describe("every stack passes every policy", () => {
  test.each(STACK_FILES)("%s", async (file) => {
    const stack = file.replace(/^Pulumi\.|\.yaml$/g, "");
    const run = await runProgram(stackConfig(path.join(ROOT, "stacks", file)), stack);
    const resources = run.resources.map((r) => asPolicyResource(stack, r));
    // The pack judges the data volume: make sure it found one, so a silent miss cannot pass.
    expect(resources.some((r) => r.urn.includes("athens-sync:") && /volume|disk/i.test(r.type))).toBe(true);
    expect(await evaluate(resources)).toEqual([]);
  });
});

describe("a stack restored from a snapshot passes every policy: both volumes protected, encrypted and on the schedule", () => {
  const RESTORED: Record<string, string> = { "aws-prod": "snap-0fedcba9876543210", "do-prod": "506f78a4-e098-11e5-ad9f-000f53306ae1", "gcp-prod": "my-sync-data-20261124" };
  test.each(Object.keys(RESTORED))("%s", async (stack) => {
    const run = await runProgram({ ...stackConfig(path.join(ROOT, "stacks", `Pulumi.${stack}.yaml`)), restoreFromSnapshot: RESTORED[stack]! }, stack);
    const resources = run.resources.map((r) => asPolicyResource(stack, r));
    expect(resources.filter((r) => ["aws:ebs/volume:Volume", "digitalocean:index/volume:Volume", "gcp:compute/disk:Disk"].includes(r.type)).length).toBe(2);
    expect(await evaluate(resources)).toEqual([]);
  });
});

// ---- One bad input per policy, with the message it must give. ----

const OWNED = (type: string, name: string) => `urn:pulumi:s::${PROJECT}::athens-sync:aws:SyncServer$${type}::${name}`;
function resource(type: string, name: string, props: Record<string, unknown>, opts: Partial<PolicyResource["opts"]> = {}, owned = true): PolicyResource {
  return {
    type,
    name,
    urn: owned ? OWNED(type, name) : `urn:pulumi:s::${PROJECT}::${type}::${name}`,
    props,
    opts: { protect: true, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [], ...opts },
    dependencies: [],
    propertyDependencies: {},
  } as unknown as PolicyResource;
}
const EBS = "aws:ebs/volume:Volume";
const DLM = { type: "aws:dlm/lifecyclePolicy:LifecyclePolicy", props: { state: "ENABLED", policyDetails: { resourceTypes: ["VOLUME"], targetTags: { "sync-snapshot": "s-sync" } } } };
const goodVolume = () => resource(EBS, "sync-data", { encrypted: true, tags: { "sync-snapshot": "s-sync" } });
const policyOf = (v: Violation[]) => v.map((x) => x.policy);

const BAD: [string, () => PolicyResource[], RegExp][] = [
  ["data-volume-encrypted", () => [resource(EBS, "sync-data", { encrypted: false, tags: { "sync-snapshot": "s-sync" } }), resource(DLM.type, "snap", DLM.props)], /Set `encrypted: true`/],
  ["data-volume-protected", () => [resource(EBS, "sync-data", { encrypted: true, tags: { "sync-snapshot": "s-sync" } }, { protect: false }), resource(DLM.type, "snap", DLM.props)], /not protected/],
  ["data-volume-not-replaced", () => [resource(EBS, "sync-data", { encrypted: true, tags: { "sync-snapshot": "s-sync" } }, { deleteBeforeReplace: true }), resource(DLM.type, "snap", DLM.props)], /deleteBeforeReplace/],
  ["data-volume-snapshots", () => [goodVolume(), resource(DLM.type, "snap", { state: "ENABLED", policyDetails: { resourceTypes: ["VOLUME"], targetTags: { "sync-snapshot": "another-stack" } } })], /no snapshot schedule/],
  ["data-volume-snapshots", () => [resource("gcp:compute/disk:Disk", "sync-data", { name: "d1" })], /no snapshot schedule/],
  ["data-volume-snapshots", () => [resource("digitalocean:index/volume:Volume", "sync-data", {}), resource("digitalocean:index/droplet:Droplet", "sync-vm", { userData: "#cloud-config\n{}" })], /no snapshot schedule/],
  ["no-world-ssh", () => [resource("aws:ec2/securityGroup:SecurityGroup", "sg", { ingress: [{ protocol: "tcp", fromPort: 0, toPort: 1024, cidrBlocks: ["0.0.0.0/0"] }] }, {}, false)], /opens port 22 to the world/],
  ["no-world-ssh", () => [resource("aws:ec2/securityGroup:SecurityGroup", "sg", { ingress: [{ protocol: "-1", fromPort: 0, toPort: 0, ipv6CidrBlocks: ["::/0"] }] }, {}, false)], /opens port 22/],
  ["no-world-ssh", () => [resource("gcp:compute/firewall:Firewall", "fw", { direction: "INGRESS", sourceRanges: ["0.0.0.0/0"], allows: [{ protocol: "tcp", ports: ["20-30"] }] }, {}, false)], /allows port 22 from the world/],
  ["no-world-ssh", () => [resource("digitalocean:index/firewall:Firewall", "fw", { inboundRules: [{ protocol: "tcp", portRange: "all", sourceAddresses: ["::/0"] }] }, {}, false)], /opens port 22/],
  ["imdsv2-required", () => [resource("aws:ec2/instance:Instance", "vm", { metadataOptions: { httpTokens: "optional" } }, {}, false)], /httpTokens: "required"/],
  [
    "server-image-by-digest",
    () => [resource("aws:ec2/instance:Instance", "sync-vm", { metadataOptions: { httpTokens: "required" }, userData: "#cloud-config\nwrite_files:\n  - path: /etc/sync/compose.yaml\n    content: |\n      services:\n        sync:\n          image: 123.dkr.ecr.us-east-1.amazonaws.com/sync:latest\n" })],
    /by tag/,
  ],
  ["server-image-by-digest", () => [resource("docker:index/container:Container", "sync-server", { image: "athens-sync-server:local" })], /by tag/],
];

test.each(BAD)("%s reports a bad input with its fix", async (name, make, message) => {
  const violations = await evaluate(make());
  expect(policyOf(violations)).toContain(name);
  expect(violations.find((v) => v.policy === name)!.message).toMatch(message);
});

test("a good volume with its schedule passes, and a user's own unprotected volume is not judged", async () => {
  expect(await evaluate([goodVolume(), resource(DLM.type, "snap", DLM.props)])).toEqual([]);
  expect(await evaluate([resource(EBS, "scratch", { encrypted: false }, { protect: false }, false)])).toEqual([]);
});

test("every policy has a name, a description, a mandatory level and a test above", () => {
  const tested = new Set(BAD.map(([name]) => name));
  for (const p of POLICIES as readonly (ResourceValidationPolicy | StackValidationPolicy)[]) {
    expect(p.description.length).toBeGreaterThan(10);
    expect(p.enforcementLevel).toBe("mandatory");
    expect(tested.has(p.name)).toBe(true);
  }
});
