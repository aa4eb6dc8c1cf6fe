/**
 * What the real providers check at preview time, which mocks do not: name, description,
 * tag and label patterns and lengths. One row per (resource type, field), each with the
 * place the provider (or the cloud's API docs, where the provider defers to the API)
 * defines it. test/mocks.ts runs every resource of every stack through this table.
 *
 * Sources, at the commits read:
 * - TPA: hashicorp/terraform-provider-aws @ cc0fff0ee90634c6bb137ec44732684543b68dbe
 * - TPG: hashicorp/terraform-provider-google @ e03b7622a26cf4e878f90bdccaca6aa3d03a7999
 * - TPD: digitalocean/terraform-provider-digitalocean @ 401992a1e493a0e3cfc833197820867991fc011f
 */

export interface Rule {
  readonly type: string;
  /** Dotted path; `[]` walks every element of a list, `{}` every key of a map, `{}=` every value. */
  readonly field: string;
  readonly pattern?: RegExp;
  readonly min?: number;
  readonly max?: number;
  /** Pulumi auto-names this field (logical name + "-" + 7 hex) when the program leaves it out. */
  readonly autoname?: boolean;
  readonly source: string;
}

const TPA = "https://github.com/hashicorp/terraform-provider-aws/blob/cc0fff0ee90634c6bb137ec44732684543b68dbe/";
const TPG = "https://github.com/hashicorp/terraform-provider-google/blob/e03b7622a26cf4e878f90bdccaca6aa3d03a7999/";
const TPD = "https://github.com/digitalocean/terraform-provider-digitalocean/blob/401992a1e493a0e3cfc833197820867991fc011f/";

/** RFC 1035 label as GCE validates it (TPG google/verify/validation.go ValidateGCEName). */
const GCE_NAME = /^(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)$/;
const AWS_TAG_KEY = { pattern: /^(?!aws:)[\s\S]*$/, min: 1, max: 128 };
const AWS_TAG_VALUE = { max: 256 };
const EC2_TAGS = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/Using_Tags.html#tag-restrictions";
const GCP_LABELS = "https://cloud.google.com/compute/docs/labeling-resources#requirements";
const DO_TAG = /^[a-zA-Z0-9:\-_]{1,255}$/;

function awsTags(type: string, field = "tags"): Rule[] {
  return [
    { type, field: `${field}.{}`, ...AWS_TAG_KEY, source: EC2_TAGS },
    { type, field: `${field}.{}=`, ...AWS_TAG_VALUE, source: EC2_TAGS },
  ];
}

function gceName(type: string, file: string, max = 63): Rule {
  return { type, field: "name", pattern: GCE_NAME, max, autoname: true, source: `${TPG}google/services/compute/${file} (name: verify.ValidateGCEName)` };
}

export const PROVIDER_RULES: readonly Rule[] = [
  // AWS
  { type: "aws:dlm/lifecyclePolicy:LifecyclePolicy", field: "description", pattern: /^[0-9A-Za-z _-]+$/, min: 1, max: 500, source: `${TPA}internal/service/dlm/lifecycle_policy.go (description)` },
  { type: "aws:dlm/lifecyclePolicy:LifecyclePolicy", field: "policyDetails.schedules.[].name", min: 0, max: 120, source: `${TPA}internal/service/dlm/lifecycle_policy.go (schedule.name)` },
  { type: "aws:dlm/lifecyclePolicy:LifecyclePolicy", field: "policyDetails.schedules.[].createRule.times", pattern: /^(0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]$/, source: `${TPA}internal/service/dlm/lifecycle_policy.go (create_rule.times)` },
  ...awsTags("aws:dlm/lifecyclePolicy:LifecyclePolicy"),
  ...awsTags("aws:dlm/lifecyclePolicy:LifecyclePolicy", "policyDetails.targetTags"),
  { type: "aws:ecr/repository:Repository", field: "name", pattern: /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/, min: 2, max: 256, autoname: true, source: `${TPA}internal/service/ecr/repository.go (name)` },
  ...awsTags("aws:ecr/repository:Repository"),
  { type: "aws:secretsmanager/secret:Secret", field: "name", pattern: /^[0-9A-Za-z/_+=.@-]+$/, min: 1, max: 512, autoname: true, source: `${TPA}internal/service/secretsmanager/validate.go (validSecretName)` },
  // 0 (delete at once) or 7-30 days; 0 lies outside the range, so it is checked here as a pattern on the number's text.
  { type: "aws:secretsmanager/secret:Secret", field: "recoveryWindowInDays", pattern: /^(?:0|[7-9]|[12][0-9]|30)$/, source: `${TPA}internal/service/secretsmanager/secret.go (recovery_window_in_days: IntBetween(7, 30) or 0)` },
  ...awsTags("aws:secretsmanager/secret:Secret"),
  { type: "aws:iam/role:Role", field: "name", pattern: /^[\w+=,.@-]+$/, min: 1, max: 64, autoname: true, source: `${TPA}internal/service/iam/role.go (name: up to 64 characters)` },
  ...awsTags("aws:iam/role:Role"),
  { type: "aws:iam/instanceProfile:InstanceProfile", field: "name", pattern: /^[\w+=,.@-]+$/, max: 128, autoname: true, source: `${TPA}internal/service/iam/instance_profile.go (name)` },
  { type: "aws:iam/rolePolicy:RolePolicy", field: "name", pattern: /^[\w+=,.@-]+$/, max: 128, autoname: true, source: `${TPA}internal/service/iam/role_policy.go (name)` },
  { type: "aws:ec2/securityGroup:SecurityGroup", field: "name", max: 255, autoname: true, source: `${TPA}internal/service/ec2/vpc_security_group.go (name)` },
  // EC2 API: "a-z, A-Z, 0-9, spaces, and ._-:/()#,@[]+=&;{}!$*", up to 255 characters.
  { type: "aws:ec2/securityGroup:SecurityGroup", field: "description", pattern: /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/, max: 255, source: `${TPA}internal/service/ec2/vpc_security_group.go (description); https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html` },
  { type: "aws:ec2/securityGroup:SecurityGroup", field: "ingress.[].description", pattern: /^[A-Za-z0-9 ._\-:/()#,@[\]+=&;{}!$*]*$/, max: 255, source: `${TPA}internal/service/ec2/vpc_security_group.go (validSecurityGroupRuleDescription)` },
  ...["aws:ec2/securityGroup:SecurityGroup", "aws:ec2/instance:Instance", "aws:ebs/volume:Volume", "aws:ec2/eip:Eip", "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway", "aws:ec2/routeTable:RouteTable", "aws:iam/instanceProfile:InstanceProfile"].flatMap((t) => awsTags(t)),
  { type: "aws:ebs/volume:Volume", field: "size", min: 1, max: 16384, source: `${TPA}internal/service/ec2/ebs_volume.go (size; gp3 1-16384 GiB)` },
  // The provider passes snapshot_id through (ForceNew, no ValidateFunc); CreateVolume wants a snapshot id.
  { type: "aws:ebs/volume:Volume", field: "snapshotId", pattern: /^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$/, source: "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateVolume.html (SnapshotId); https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html (snap- and 8 or 17 hex)" },

  // GCP
  gceName("gcp:compute/disk:Disk", "resource_compute_disk.go"),
  gceName("gcp:compute/address:Address", "resource_compute_address.go"),
  gceName("gcp:compute/firewall:Firewall", "resource_compute_firewall.go"),
  gceName("gcp:compute/network:Network", "resource_compute_network.go"),
  gceName("gcp:compute/subnetwork:Subnetwork", "resource_compute_subnetwork.go"),
  gceName("gcp:compute/resourcePolicy:ResourcePolicy", "resource_compute_resource_policy.go"),
  { type: "gcp:compute/instance:Instance", field: "name", pattern: GCE_NAME, max: 63, autoname: true, source: `${TPG}google/services/compute/resource_compute_instance.go (name: verify.ValidateRFC1035Name(1, 63))` },
  { type: "gcp:compute/instance:Instance", field: "tags.[]", pattern: GCE_NAME, max: 63, source: "https://cloud.google.com/vpc/docs/add-remove-network-tags (network tags: RFC 1035, 1-63)" },
  { type: "gcp:compute/firewall:Firewall", field: "targetTags.[]", pattern: GCE_NAME, max: 63, source: "https://cloud.google.com/vpc/docs/add-remove-network-tags" },
  { type: "gcp:serviceaccount/account:Account", field: "accountId", pattern: /^[a-z](?:[-a-z0-9]{4,28}[a-z0-9])$/, min: 6, max: 30, source: `${TPG}google/services/resourcemanager/resource_google_service_account.go (account_id: verify.ValidateRFC1035Name(6, 30))` },
  { type: "gcp:artifactregistry/repository:Repository", field: "repositoryId", pattern: /^[a-z](?:[a-z0-9-]*[a-z0-9])?$/, max: 63, source: "https://cloud.google.com/artifact-registry/docs/repositories/create-repos (repository names)" },
  { type: "gcp:secretmanager/secret:Secret", field: "secretId", pattern: /^[a-zA-Z0-9_-]+$/, min: 1, max: 255, source: "https://cloud.google.com/secret-manager/docs/reference/rest/v1/projects.secrets/create (secretId)" },
  // snapshot: a name or a partial/full URL (the field's description); the name is an RFC 1035 label.
  { type: "gcp:compute/disk:Disk", field: "snapshot", pattern: /^(?:(?:https:\/\/(?:www|compute)\.googleapis\.com\/compute\/v1\/)?(?:projects\/[^/]+\/)?global\/snapshots\/)?[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/, source: `${TPG}google/services/compute/resource_compute_disk.go (snapshot); https://cloud.google.com/compute/docs/reference/rest/v1/snapshots (name: RFC 1035)` },
  { type: "gcp:compute/disk:Disk", field: "labels.{}", pattern: /^[a-z][a-z0-9_-]{0,62}$/, source: GCP_LABELS },
  { type: "gcp:compute/disk:Disk", field: "labels.{}=", pattern: /^[a-z0-9_-]{0,63}$/, source: GCP_LABELS },
  { type: "gcp:compute/resourcePolicy:ResourcePolicy", field: "snapshotSchedulePolicy.snapshotProperties.labels.{}", pattern: /^[a-z][a-z0-9_-]{0,62}$/, source: GCP_LABELS },
  { type: "gcp:compute/resourcePolicy:ResourcePolicy", field: "snapshotSchedulePolicy.snapshotProperties.labels.{}=", pattern: /^[a-z0-9_-]{0,63}$/, source: GCP_LABELS },

  // DigitalOcean
  { type: "digitalocean:index/tag:Tag", field: "name", pattern: DO_TAG, autoname: true, source: `${TPD}digitalocean/tag/tags.go (tagNameRe)` },
  { type: "digitalocean:index/droplet:Droplet", field: "tags.[]", pattern: DO_TAG, source: `${TPD}digitalocean/tag/tags.go (ValidateTag, used by the droplet's tags)` },
  { type: "digitalocean:index/firewall:Firewall", field: "tags.[]", pattern: DO_TAG, source: `${TPD}digitalocean/tag/tags.go` },
  { type: "digitalocean:index/droplet:Droplet", field: "name", pattern: /^[a-zA-Z0-9.-]+$/, min: 1, max: 255, autoname: true, source: "https://docs.digitalocean.com/reference/api/digitalocean/#tag/Droplets/operation/droplets_create (name: a valid hostname)" },
  // snapshot_id: validation.NoZeroValues in the provider; the API wants a volume snapshot's id, a UUID.
  { type: "digitalocean:index/volume:Volume", field: "snapshotId", pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, source: `${TPD}digitalocean/volume/resource_volume.go (snapshot_id); https://docs.digitalocean.com/reference/api/digitalocean/#tag/Block-Storage/operation/volumes_create (snapshot_id)` },
  { type: "digitalocean:index/volume:Volume", field: "name", pattern: /^[a-z](?:[-a-z0-9]*[a-z0-9])?$/, max: 64, autoname: true, source: "https://docs.digitalocean.com/reference/api/digitalocean/#tag/Block-Storage/operation/volumes_create (name: lowercase letters, digits and dashes, starts with a letter, up to 64)" },
  { type: "digitalocean:index/containerRegistry:ContainerRegistry", field: "name", pattern: /^[a-z0-9-]+$/, min: 1, max: 63, autoname: true, source: "https://docs.digitalocean.com/reference/api/digitalocean/#tag/Container-Registry/operation/registry_create (name: lowercase letters, digits, dashes, up to 63)" },
  { type: "digitalocean:index/firewall:Firewall", field: "name", pattern: /^[a-zA-Z0-9.-]+$/, min: 1, max: 255, autoname: true, source: "https://docs.digitalocean.com/reference/api/digitalocean/#tag/Firewalls/operation/firewalls_create (name: letters, digits, periods, dashes)" },
  { type: "digitalocean:index/vpc:Vpc", field: "name", pattern: /^[a-zA-Z0-9.-]+$/, min: 1, max: 255, autoname: true, source: "https://docs.digitalocean.com/reference/api/digitalocean/#tag/VPCs/operation/vpcs_create (name: letters, digits, periods, dashes)" },
];

/** What Pulumi's auto-naming would put in a field the program leaves out. */
export function autoName(logical: string): string {
  return `${logical}-a1b2c3d`;
}

function select(value: unknown, path: string[]): unknown[] {
  if (path.length === 0) return [value];
  const [head, ...rest] = path as [string, ...string[]];
  if (value === undefined || value === null) return [];
  if (head === "[]") return Array.isArray(value) ? value.flatMap((v) => select(v, rest)) : [];
  if (head === "{}") return typeof value === "object" ? Object.keys(value as object).flatMap((k) => select(k, rest)) : [];
  if (head === "{}=") return typeof value === "object" ? Object.values(value as object).flatMap((v) => select(v, rest)) : [];
  return select((value as Record<string, unknown>)[head], rest);
}

/** Every rule the resource breaks, as readable lines. `inputs` are plain (secrets unwrapped). */
export function violations(type: string, logicalName: string, inputs: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const rule of PROVIDER_RULES.filter((r) => r.type === type)) {
    const parts = rule.field.replace(/\.\{\}=$/, ".{}=").split(".");
    let values = select(inputs, parts);
    if (values.length === 0 && rule.autoname && rule.field === "name") values = [autoName(logicalName)];
    for (const v of values) {
      if (typeof v === "number") {
        if ((rule.min !== undefined && v < rule.min) || (rule.max !== undefined && v > rule.max)) out.push(`${type} ${logicalName}: ${rule.field}=${v} is outside ${rule.min ?? "-∞"}..${rule.max ?? "∞"} (${rule.source})`);
        // A set with a gap (e.g. 0 or 7-30) is a pattern on the number's text.
        if (rule.pattern && !rule.pattern.test(String(v))) out.push(`${type} ${logicalName}: ${rule.field}=${v} does not match ${rule.pattern} (${rule.source})`);
        continue;
      }
      if (typeof v !== "string") continue;
      const bad =
        (rule.pattern && !rule.pattern.test(v) && `does not match ${rule.pattern}`) ||
        (rule.min !== undefined && v.length < rule.min && `is shorter than ${rule.min}`) ||
        (rule.max !== undefined && v.length > rule.max && `is longer than ${rule.max}`);
      if (bad) out.push(`${type} ${logicalName}: ${rule.field}=${JSON.stringify(v)} ${bad} (${rule.source})`);
    }
  }
  return out;
}
