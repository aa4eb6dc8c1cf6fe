import type * as pulumi from "@pulumi/pulumi";
import type { ProviderName, StackConfig } from "./config";

/** What every provider's SyncServer component exposes as stack outputs. */
export interface SyncServerOutputs {
  /** wss://<hostname>/ws */
  readonly url: pulumi.Output<string>;
  readonly hostname: pulumi.Output<string>;
  /** Public IP (the machine's address; 127.0.0.1 for the local docker provider). */
  readonly ip: pulumi.Output<string>;
  /** The data volume's id: keep it; it is where every byte of data lives. */
  readonly volumeId: pulumi.Output<string>;
  /** The access token clients present (secret). */
  readonly token: pulumi.Output<string>;
  /** The server image, by digest. */
  readonly image: pulumi.Output<string>;
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
  create(name: string, args: SyncServerArgs, opts?: pulumi.ComponentResourceOptions): pulumi.ComponentResource & SyncServerOutputs;
}
