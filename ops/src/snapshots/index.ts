/**
 * `athens-sync snapshots`: the provider's volume snapshots of one stack, newest first,
 * read with the same credentials Pulumi uses. Each id is what `restoreFromSnapshot` takes.
 */
import { listAwsSnapshots } from "./aws";
import { listDigitalOceanSnapshots } from "./digitalocean";
import { listGcpSnapshots } from "./gcp";
import type { StackOutputs } from "./outputs";
import type { ListOptions, Snapshot } from "./types";

export { parseStackOutputs, type StackOutputs, StackOutputsError } from "./outputs";
export { type ListOptions, type Snapshot, SnapshotListError } from "./types";

export async function listSnapshots(outputs: StackOutputs, opts: ListOptions = {}): Promise<Snapshot[]> {
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
