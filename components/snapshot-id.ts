// Type-only: config.ts imports this file for its checks.
import type { ProviderName } from "./config";

/**
 * What a volume snapshot id looks like on each cloud, and what the restored volume is
 * called. Pure: the stack config (components/config.ts) and the operator CLI
 * (ops/src/restore-snapshot.ts) check an id with the same function, before any resource
 * or any `pulumi` run.
 *
 * - AWS: `snap-` and 8 or 17 lowercase hex digits
 *   (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html: "snap-" plus
 *   8 characters for older resources, 17 for newer).
 * - DigitalOcean: a volume snapshot's id is a UUID; a numeric id is a Droplet snapshot
 *   (an image), from which no volume can be created
 *   (https://docs.digitalocean.com/reference/api/digitalocean/#tag/Block-Storage/operation/volumes_create:
 *   `snapshot_id`, "the unique identifier for the volume snapshot"; snapshots of
 *   resource_type "droplet" have numeric ids, of "volume" UUIDs:
 *   https://docs.digitalocean.com/reference/api/digitalocean/#tag/Snapshots).
 * - GCP: a snapshot name (RFC 1035, 1-63: `[a-z]([-a-z0-9]{0,61}[a-z0-9])?`), or the
 *   partial or full URL the provider accepts for google_compute_disk.snapshot
 *   (terraform-provider-google google/services/compute/resource_compute_disk.go @ e03b762:
 *   `https://www.googleapis.com/compute/v1/projects/P/global/snapshots/S`,
 *   `projects/P/global/snapshots/S`, `global/snapshots/S`, or `S`).
 */
const AWS_SNAPSHOT = /^snap-(?:[0-9a-f]{8}|[0-9a-f]{17})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const GCE_NAME = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
/** A project id (6-30, lowercase, digits, dashes), optionally domain-scoped (`example.com:proj`). */
const GCP_PROJECT = /^(?:[a-z0-9.-]+:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$/;
const GCP_SNAPSHOT_URL = /^(?:https:\/\/(?:www|compute)\.googleapis\.com\/compute\/(?:v1|beta)\/)?(?:projects\/([^/]+)\/)?global\/snapshots\/([^/]+)$/;

/** Why `id` cannot name a volume snapshot on `cloud`, as a fix-it sentence; undefined when it can. */
export function snapshotIdProblem(cloud: ProviderName, id: string): string | undefined {
  switch (cloud) {
    case "aws":
      return AWS_SNAPSHOT.test(id) ? undefined : `must be an EBS snapshot id such as snap-0123456789abcdef0 ("snap-" and 8 or 17 lowercase hex digits); list them with \`athens-sync snapshots\``;
    case "digitalocean":
      if (UUID.test(id)) return undefined;
      if (/^\d+$/.test(id)) return "is a numeric id, which DigitalOcean gives Droplet snapshots (images); a volume is created only from a volume snapshot, whose id is a UUID such as 506f78a4-e098-11e5-ad9f-000f53306ae1; list them with `athens-sync snapshots`";
      return "must be a DigitalOcean volume snapshot id, a lowercase UUID such as 506f78a4-e098-11e5-ad9f-000f53306ae1; list them with `athens-sync snapshots`";
    case "gcp": {
      const url = GCP_SNAPSHOT_URL.exec(id);
      const name = url ? url[2]! : id;
      if (url?.[1] !== undefined && !GCP_PROJECT.test(url[1])) return `names the project "${url[1]}", which is not a GCP project id`;
      return GCE_NAME.test(name)
        ? undefined
        : "must be a GCP snapshot name (lowercase letters, digits and dashes, starting with a letter, at most 63) or its URL, such as projects/my-project/global/snapshots/sync-data-20261124; list them with `athens-sync snapshots`";
    }
    case "docker":
      return "is not supported by the local docker provider: it has no volume snapshots. Restore one of the server's own backups instead (`athens-sync restore --from-backup FILE`)";
    default: {
      const unknown: never = cloud;
      return `unknown provider ${String(unknown)}`;
    }
  }
}

/**
 * The short, name-safe form of a snapshot id that the restored volume's names carry: the
 * id itself on AWS and DigitalOcean, the snapshot's name on GCP (the last URL segment).
 * Lowercase letters, digits and dashes only, so it fits every cloud's volume name rules.
 */
export function snapshotSlug(id: string): string {
  return (id.split("/").pop() ?? id).toLowerCase();
}
