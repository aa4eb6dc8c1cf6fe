import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { isDataVolume } from "./data-volume";

type Props = Record<string, unknown>;

/** AWS: an enabled DLM policy whose target tags all appear on the volume. */
function awsScheduled(volume: PolicyResource, all: PolicyResource[]): boolean {
  const tags = (volume.props.tags ?? {}) as Record<string, string>;
  return all.some((r) => {
    if (r.type !== "aws:dlm/lifecyclePolicy:LifecyclePolicy" || r.props.state === "DISABLED") return false;
    const details = (r.props.policyDetails ?? {}) as Props;
    const target = (details.targetTags ?? {}) as Record<string, string>;
    const types = (details.resourceTypes ?? []) as string[];
    return types.includes("VOLUME") && Object.keys(target).length > 0 && Object.entries(target).every(([k, v]) => tags[k] === v);
  });
}

/** GCP: a snapshot schedule attached to the disk, inline or by a DiskResourcePolicyAttachment. */
function gcpScheduled(volume: PolicyResource, all: PolicyResource[]): boolean {
  if (Array.isArray(volume.props.resourcePolicies) && volume.props.resourcePolicies.length > 0) return true;
  const diskName = (volume.props.name as string | undefined) ?? volume.name;
  return all.some((r) => r.type === "gcp:compute/diskResourcePolicyAttachment:DiskResourcePolicyAttachment" && r.props.disk === diskName);
}

/** DigitalOcean has no managed volume schedule: the component installs a snapshot timer on the Droplet. */
function doScheduled(_volume: PolicyResource, all: PolicyResource[]): boolean {
  return all.some((r) => r.type === "digitalocean:index/droplet:Droplet" && typeof r.props.userData === "string" && r.props.userData.includes("sync-snapshot.timer"));
}

const CHECKS: Record<string, ((v: PolicyResource, all: PolicyResource[]) => boolean) | undefined> = {
  "aws:ebs/volume:Volume": awsScheduled,
  "gcp:compute/disk:Disk": gcpScheduled,
  "digitalocean:index/volume:Volume": doScheduled,
  // The local Docker stack has no snapshots: its safety net is the server's own backups.
  "docker:index/volume:Volume": undefined,
};

export const dataVolumeSnapshots: StackValidationPolicy = {
  name: "data-volume-snapshots",
  description: "Every cloud data volume has a snapshot schedule (DLM on AWS, a resource policy on GCP, the snapshot timer on DigitalOcean).",
  enforcementLevel: "mandatory",
  validateStack: (args, reportViolation) => {
    for (const volume of args.resources.filter(isDataVolume)) {
      const check = CHECKS[volume.type];
      if (check && !check(volume, args.resources)) {
        reportViolation(
          `The data volume ${volume.name} has no snapshot schedule. Keep the component's snapshot resources (snapshotSchedule/snapshotRetain config); a volume without snapshots has no way back from a bad update.`,
          volume.urn,
        );
      }
    }
  },
};
