import * as pulumi from "@pulumi/pulumi";
import type { ProviderName } from "../config";
import type { SyncServerOutputs } from "../contract";

/**
 * What every provider's SyncServer shares: the outputs of the contract. A subclass
 * builds its resources, then ends its constructor with `this.publish({...})`.
 */
export abstract class SyncServerBase extends pulumi.ComponentResource implements SyncServerOutputs {
  declare readonly url: pulumi.Output<string>;
  declare readonly hostname: pulumi.Output<string>;
  declare readonly ip: pulumi.Output<string>;
  declare readonly volumeId: pulumi.Output<string>;
  declare readonly token: pulumi.Output<string>;
  declare readonly image: pulumi.Output<string>;
  declare readonly adminToken: pulumi.Output<string>;
  declare readonly cloud: pulumi.Output<ProviderName>;
  declare readonly region: pulumi.Output<string>;
  declare readonly instanceId: pulumi.Output<string>;
  declare readonly retainedVolumeIds: pulumi.Output<string[]>;
  declare readonly snapshotTag: pulumi.Output<{ key: string; value: string }>;
  declare readonly zone?: pulumi.Output<string>;
  declare readonly project?: pulumi.Output<string>;
  declare readonly instanceName?: pulumi.Output<string>;
  declare readonly container?: pulumi.Output<string>;

  /** Sets the contract's outputs and registers them: the last line of every constructor. */
  protected publish(outputs: SyncServerOutputs): void {
    Object.assign(this, outputs);
    this.registerOutputs({ ...outputs });
  }
}
