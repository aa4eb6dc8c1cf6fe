import type { ProviderName } from "../../../components/config";

/** One volume snapshot a stack can be restored from (`restoreFromSnapshot: <id>`). */
export interface Snapshot {
  /** What `restoreFromSnapshot` takes: snap-… (AWS), a UUID (DigitalOcean), the snapshot's name (GCP). */
  readonly id: string;
  /** ISO 8601, UTC. */
  readonly createdAt: string;
  /** The size of the volume it was taken of: a volume restored from it needs at least this many GiB. */
  readonly sizeGiB: number;
  readonly cloud: ProviderName;
  readonly description?: string;
}

export interface ListOptions {
  /**
   * API base URLs in place of the clouds' own (tests point them at a recorded-response
   * server on loopback). Also read from ATHENS_SYNC_AWS_ENDPOINT, ATHENS_SYNC_DO_API and
   * ATHENS_SYNC_GCP_API.
   */
  readonly endpoints?: { readonly aws?: string; readonly digitalocean?: string; readonly gcp?: string };
  /** Where credentials are read from, as Pulumi's providers read them. @default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** Runs a command for its stdout (GCP: `gcloud auth application-default print-access-token`). */
  readonly run?: (command: string, args: readonly string[]) => Promise<string>;
  /** Pages read at most per listing: a bound, not a limit anyone should meet. @default 50 */
  readonly maxPages?: number;
}

export class SnapshotListError extends Error {
  override readonly name = "SnapshotListError";
}

export const DEFAULT_MAX_PAGES = 50;

/** Newest first; the id breaks ties, so the order is stable. */
export function newestFirst(snapshots: Snapshot[]): Snapshot[] {
  return [...snapshots].sort((a, b) => (a.createdAt === b.createdAt ? a.id.localeCompare(b.id) : a.createdAt < b.createdAt ? 1 : -1));
}
