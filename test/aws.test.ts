import path from "node:path";
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

  test("the token is a secret, and so is the user data that carries it", async () => {
    expect(await isSecret(run.outputs.token as never)).toBe(true);
    expect(run.resolved.token).toHaveLength(48);
    const [vm] = byType(run.resources, "aws:ec2/instance:Instance");
    expect(isSecretInput(vm!.inputs.userData)).toBe(true);
    expect(plain<string>(vm!.inputs.userData)).toContain(`SYNC_TOKEN=${run.resolved.token}`);
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
