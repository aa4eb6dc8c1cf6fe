/**
 * `athens-sync snapshots`: the provider's volume snapshots of one stack, newest first,
 * read with the same credentials Pulumi uses. Each id is what `restoreFromSnapshot` takes.
 */
import { listAwsSnapshots } from "./aws";
import { listDigitalOceanSnapshots } from "./digitalocean";
import { listGcpSnapshots } from "./gcp";
import { parseStackOutputs, type StackOutputs } from "./outputs";
import type { ListOptions, Snapshot } from "./types";

export { parseStackOutputs, type StackOutputs, StackOutputsError } from "./outputs";
export { type ListOptions, type Snapshot, SnapshotListError } from "./types";

/**
 * `outputs` as parsed by parseStackOutputs, or the raw `pulumi stack output --json
 * --show-secrets` object (it is parsed here either way: a caller's own looser parse, an
 * older stack's `provider` in place of `cloud`, a missing `retainedVolumeIds` all work).
 */
export async function listSnapshots(raw: StackOutputs | Record<string, unknown>, opts: ListOptions = {}): Promise<Snapshot[]> {
  const outputs = parseStackOutputs(raw);
  switch (outputs.cloud) {
    case "aws":
      return listAwsSnapshots(outputs, opts);
    case "digitalocean":
      return listDigitalOceanSnapshots(outputs, opts);
    case "gcp":
      return listGcpSnapshots(outputs, opts);
    case "docker":
      // The local stack has no volume snapshots; its way back is the server's own backups.
      return [];
    default: {
      const unknown: never = outputs.cloud;
      throw new Error(`unknown cloud ${String(unknown)}`);
    }
  }
}
