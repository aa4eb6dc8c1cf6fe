import type * as pulumi from "@pulumi/pulumi";
import type { ProviderName, StackConfig } from "./config";

/** What every provider's SyncServer component exposes as stack outputs. */
export interface SyncServerOutputs {
  /** wss://<hostname>/ws */
  readonly url: pulumi.Output<string>;
  readonly hostname: pulumi.Output<string>;
  /** Public IP (the machine's address; 127.0.0.1 for the local docker provider). */
  readonly ip: pulumi.Output<string>;
  /**
   * The attached data volume's id: keep it; it is where every byte of data lives. On GCP
   * `projects/P/zones/Z/disks/NAME`.
   */
  readonly volumeId: pulumi.Output<string>;
  /** The access token clients present (secret). */
  readonly token: pulumi.Output<string>;
  /** The server image, by digest. */
  readonly image: pulumi.Output<string>;
  /** The operator's token for the server's `/admin/*` endpoints (secret). */
  readonly adminToken: pulumi.Output<string>;
  /** Which provider runs it: what the operator CLI reads to pick a cloud's API. */
  readonly cloud: pulumi.Output<ProviderName>;
  /** The cloud region ("local" for the docker provider). */
  readonly region: pulumi.Output<string>;
  /**
   * The VM: an EC2 instance id, a Droplet id, a GCE instance's `projects/P/zones/Z/instances/NAME`
   * (its project and zone included), or the local server container's name.
   */
  readonly instanceId: pulumi.Output<string>;
  /**
   * Data volumes the stack keeps but does not attach: the original volume while
   * `restoreFromSnapshot` is set. Kept (protected, retained), never deleted.
   */
  readonly retainedVolumeIds: pulumi.Output<string[]>;
  /** The tag (AWS) or label (GCP) every scheduled snapshot of this stack carries. */
  readonly snapshotTag: pulumi.Output<{ key: string; value: string }>;
  /** GCP only: the zone, project and instance name that `gcloud compute ssh` takes. */
  readonly zone?: pulumi.Output<string>;
  readonly project?: pulumi.Output<string>;
  readonly instanceName?: pulumi.Output<string>;
  /** Docker only: the server container's name (`docker logs`, `docker exec`). */
  readonly container?: pulumi.Output<string>;
}

export interface SyncServerArgs {
  /** The parsed stack config. */
  readonly config: StackConfig;
  /**
   * The server image's build context: a directory holding server/ (with its Dockerfile), protocol/ and client/ (the demo).
   * @default the package's own root
   * @example "/src/athens-sync"
   */
  readonly buildContext?: string;
}

/**
 * The contract every provider module meets (checked with `satisfies`): one factory
 * that builds that provider's SyncServer component.
 */
export interface SyncProvider {
  readonly name: ProviderName;
  /**
   * Checks made with the provider's own lookups before any resource is declared (the
   * config alone cannot tell, e.g. the AWS partition of the provider's region); throws
   * an error that names the key and the fix.
   */
  preflight?(opts?: pulumi.ComponentResourceOptions): Promise<void>;
  create(name: string, args: SyncServerArgs, opts?: pulumi.ComponentResourceOptions): pulumi.ComponentResource & SyncServerOutputs;
}
