import { spawnSync } from "node:child_process";
import path from "node:path";
import { commercialRegion } from "../components/aws/region";
import { byType, FAKE_DIGEST, isSecret, isSecretInput, plain, runProgram, unwrap } from "./mocks";

const base = { provider: "aws", acmeEmail: "ops@example.com" };

describe("aws stack under mocks", () => {
  let run: Awaited<ReturnType<typeof runProgram>>;
  beforeAll(async () => {
    run = await runProgram(base);
  });

  test("the volume is encrypted gp3, protected and retained, in the instance's AZ", () => {
    const [volume] = byType(run.resources, "aws:ebs/volume:Volume");
    const [vm] = byType(run.resources, "aws:ec2/instance:Instance");
    expect(volume!.inputs).toMatchObject({ encrypted: true, type: "gp3", size: 20 });
    expect(volume!.opts.protect).toBe(true);
    expect(volume!.opts.retainOnDelete).toBe(true);
    expect(volume!.inputs.availabilityZone).toBe("us-east-1a");
    expect(vm!.inputs.availabilityZone).toBe(volume!.inputs.availabilityZone);
  });

  test("the volume is attached, and the VM waits for it by its NVMe by-id path", () => {
    const [attachment] = byType(run.resources, "aws:ec2/volumeAttachment:VolumeAttachment");
    expect(attachment!.inputs).toMatchObject({ volumeId: "vol-0123456789abcdef0", instanceId: "sync-vm-id", stopInstanceBeforeDetaching: true });
    const [vm] = byType(run.resources, "aws:ec2/instance:Instance");
    expect(plain<string>(vm!.inputs.userData)).toMatch(/DEVICES='\/dev\/disk\/by-id\/nvme-Amazon_Elastic_Block_Store_vol0123456789abcdef0 /);
  });

  test("the DLM policy targets the volume's tag with the configured retention", () => {
    const [volume] = byType(run.resources, "aws:ebs/volume:Volume");
    const [policy] = byType(run.resources, "aws:dlm/lifecyclePolicy:LifecyclePolicy");
    const details = policy!.inputs.policyDetails;
    expect(details.resourceTypes).toEqual(["VOLUME"]);
    for (const [k, v] of Object.entries(details.targetTags)) expect(volume!.inputs.tags[k]).toBe(v);
    expect(details.schedules[0].retainRule.count).toBe(7);
    expect(details.schedules[0].createRule).toMatchObject({ interval: 24, intervalUnit: "HOURS" });
  });

  test("the security group opens 80/443, and 22 to nobody by default", () => {
    const [sg] = byType(run.resources, "aws:ec2/securityGroup:SecurityGroup");
    const ports = sg!.inputs.ingress.map((r: { fromPort: number }) => r.fromPort);
    expect(ports).toEqual(expect.arrayContaining([80, 443]));
    expect(sg!.inputs.ingress.filter((r: { fromPort: number; toPort: number }) => r.fromPort <= 22 && r.toPort >= 22)).toEqual([]);
  });

  test("IMDSv2 is required, and the VM is replaced (old one first) when the image changes", () => {
    const [vm] = byType(run.resources, "aws:ec2/instance:Instance");
    expect(vm!.inputs.metadataOptions).toMatchObject({ httpTokens: "required" });
    expect(vm!.inputs.userDataReplaceOnChange).toBe(true);
    expect(vm!.opts.deleteBeforeReplace).toBe(true);
    expect(vm!.inputs.iamInstanceProfile).toBe("sync-profile");
    expect(vm!.inputs.keyName).toBeUndefined();
  });

  test("the image is built from server/Dockerfile in the package root, pushed to ECR, and run by digest", async () => {
    const [image] = byType(run.resources, "docker:index/image:Image");
    // The context is the package root: the server imports the shared protocol/ beside it.
    expect(image!.inputs.build.context).toBe(path.join(__dirname, ".."));
    expect(image!.inputs.build.dockerfile).toBe(path.join(__dirname, "..", "server", "Dockerfile"));
    expect(plain<{ server: string }>(image!.inputs.registry).server).toMatch(/dkr\.ecr/);
    expect(run.resolved.image).toMatch(new RegExp(`@${FAKE_DIGEST}$`));
    const [vm] = byType(run.resources, "aws:ec2/instance:Instance");
    expect(plain<string>(vm!.inputs.userData)).toContain(`image: ${run.resolved.image}`);
  });

  test("no DNS record without a zone; the hostname is <ip>.sslip.io", () => {
    expect(byType(run.resources, "aws:route53/record:Record")).toEqual([]);
    expect(run.resolved.url).toBe("wss://203-0-113-10.sslip.io/ws");
  });

  test("the token is a secret; the user data carries no secret, only the fetch of the stack's Secrets Manager secret, which the instance role alone may read", async () => {
    expect(await isSecret(run.outputs.token as never)).toBe(true);
    expect(run.resolved.token).toHaveLength(48);
    const [vm] = byType(run.resources, "aws:ec2/instance:Instance");
    const userData = plain<string>(vm!.inputs.userData);
    // ec2:DescribeInstanceAttribute hands user data to read-only principals: no token, admin token or JWT secret in it.
    expect(userData).not.toContain(run.resolved.token as string);
    expect(userData).not.toContain(run.resolved.adminToken as string);
    // (The fetch script's own check names "SYNC_TOKEN=" in quotes, with no value.)
    expect(userData).not.toMatch(/SYNC_(TOKEN|ADMIN_TOKEN|JWT_SECRET)=(?!")/);
    expect(userData).toContain("ExecStartPre=/usr/local/sbin/sync-fetch-secrets");
    expect(userData).toContain('SECRET_ID = "test-sync/server-env"');
    expect(userData).toContain('REGION = "us-east-1"');
    // Holding no secret, it is not marked one: a pull request's preview shows its diff
    // (a change to it replaces the VM), instead of "[secret]".
    expect(isSecretInput(vm!.inputs.userData)).toBe(false);
    expect(typeof vm!.inputs.userData).toBe("string");

    const [secret] = byType(run.resources, "aws:secretsmanager/secret:Secret");
    // Deleted at once on destroy, so the next `pulumi up` can create the same name again.
    expect(secret!.inputs).toMatchObject({ name: "test-sync/server-env", recoveryWindowInDays: 0 });
    const [version] = byType(run.resources, "aws:secretsmanager/secretVersion:SecretVersion");
    expect(isSecretInput(version!.inputs.secretString)).toBe(true);
    const env = plain<string>(version!.inputs.secretString);
    expect(env).toContain(`SYNC_TOKEN=${run.resolved.token}`);
    expect(env).toContain(`SYNC_ADMIN_TOKEN=${run.resolved.adminToken}`);

    const policies = byType(run.resources, "aws:iam/rolePolicy:RolePolicy").map((p) => JSON.parse(plain<string>(p.inputs.policy)) as { Statement: Array<{ Action: string[]; Resource: string }> });
    const grants = policies.flatMap((p) => p.Statement).filter((s) => s.Action.some((a) => a.startsWith("secretsmanager:")));
    expect(grants).toEqual([{ Effect: "Allow", Action: ["secretsmanager:GetSecretValue"], Resource: "arn:aws:secretsmanager:us-east-1:123456789012:secret:test-sync/server-env-AbCdEf" }]);
    // The VM boots once the secret holds its version and the role may read it.
    const deps = (vm!.opts.dependsOn as Array<{ __name?: string }>).map((r) => (r as unknown as { __name: string }).__name);
    expect(deps).toEqual(expect.arrayContaining(["sync-env-version", "sync-role-secret"]));
  });
});

describe("aws stack options", () => {
  test("a zone adds a Route53 A record, SSH CIDRs open 22 to them only, hourly snapshots", async () => {
    const run = await runProgram({ ...base, dnsZone: "example.com", domain: "sync.example.com", sshCidrs: '["198.51.100.7/32"]', snapshotSchedule: "hourly", snapshotRetain: "48" });
    const [record] = byType(run.resources, "aws:route53/record:Record");
    expect(record!.inputs).toMatchObject({ zoneId: "Z123", name: "sync.example.com", type: "A", records: ["203.0.113.10"] });
    expect(run.resolved.url).toBe("wss://sync.example.com/ws");
    const [sg] = byType(run.resources, "aws:ec2/securityGroup:SecurityGroup");
    const ssh = sg!.inputs.ingress.filter((r: { fromPort: number }) => r.fromPort === 22);
    expect(ssh).toEqual([expect.objectContaining({ cidrBlocks: ["198.51.100.7/32"] })]);
    const [policy] = byType(run.resources, "aws:dlm/lifecyclePolicy:LifecyclePolicy");
    expect(policy!.inputs.policyDetails.schedules[0]).toMatchObject({ createRule: { interval: 1 }, retainRule: { count: 48 } });
    await unwrap(run.outputs.url as never);
  });
});

/** The stack under mocks in a process of its own (test/programs/run-under-mocks.ts): its exit status and last line. */
function runInOwnProcess(config: Record<string, string>): { status: number | null; result: { ok: boolean; error?: string; resources: number } } {
  const run = spawnSync(process.execPath, ["--import", "tsx", path.join(__dirname, "programs", "run-under-mocks.ts"), JSON.stringify(config)], {
    cwd: path.join(__dirname, ".."),
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: run.status, result: JSON.parse(run.stdout.trim().split("\n").pop()!) };
}

describe("aws partitions", () => {
  // The partition comes from the provider (aws.getPartition); the mock answers by the AWS
  // SDKs' regionRegex per partition (test/mocks.ts).
  test.each([
    ["cn-north-1", "aws-cn"],
    ["us-gov-west-1", "aws-us-gov"],
  ])("a region in %s's partition (%s) stops the program before any resource, naming aws:region and the fix", (region, partition) => {
    const { status, result } = runInOwnProcess({ ...base, "aws:region": region });
    expect(status).toBe(1);
    expect(result.error).toContain(`aws:region "${region}" is in the AWS partition "${partition}"`);
    expect(result.error).toMatch(/Set aws:region to a commercial region/);
    // The root stack registers itself; nothing else was declared.
    expect(result.resources).toBeLessThanOrEqual(1);
  });

  test("the same runner deploys a commercial region (the failures above are the region's)", () => {
    const { result } = runInOwnProcess({ ...base, "aws:region": "us-west-2" });
    expect(result).toMatchObject({ ok: true });
    expect(result.resources).toBeGreaterThan(20);
  });

  test("the component's own check (for programs that build SyncServer directly) refuses the same partitions", () => {
    expect(() => commercialRegion("cn-northwest-1", "aws-cn")).toThrow(/partition "aws-cn"/);
    expect(() => commercialRegion("us-gov-east-1", "aws-us-gov")).toThrow(/partition "aws-us-gov"/);
    expect(commercialRegion("ap-southeast-2", "aws")).toBe("ap-southeast-2");
    expect(() => commercialRegion("us-east-1\nX", "aws")).toThrow(/not an AWS region/);
  });

  test("a commercial region other than us-east-1 deploys, and its name reaches the VM's scripts", async () => {
    const run = await runProgram({ ...base, "aws:region": "eu-central-1" });
    const [vm] = byType(run.resources, "aws:ec2/instance:Instance");
    const userData = plain<string>(vm!.inputs.userData);
    expect(userData).toMatch(/REGION = "eu-central-1"/);
    expect(userData).toMatch(/amazon-ssm-eu-central-1/);
  });
});
