import * as aws from "@pulumi/aws";
import type * as pulumi from "@pulumi/pulumi";
import type { SyncProvider } from "../contract";
import { commercialRegion } from "./region";
import { SyncServer } from "./sync-server";

export { SyncServer, AWS_TYPE, ebsDevicePaths } from "./sync-server";

export const awsProvider = {
  name: "aws",
  // The component checks the partition too (a program may build SyncServer itself), but
  // only inside an Output; here a wrong one stops the program before any resource exists.
  preflight: async (opts) => {
    const invoke = awsInvokeOptions(opts);
    const [region, partition] = await Promise.all([aws.getRegion({}, invoke), aws.getPartition({}, invoke)]);
    commercialRegion(region.region, partition.partition);
  },
  create: (name, args, opts) => new SyncServer(name, args, opts),
} satisfies SyncProvider;

/** The AWS provider the component would use: an explicit one from its options, else its parent's or the default. */
function awsInvokeOptions(opts?: pulumi.ComponentResourceOptions): pulumi.InvokeOptions {
  const candidates = [opts?.provider, ...(Array.isArray(opts?.providers) ? opts.providers : Object.values(opts?.providers ?? {}))];
  const provider = candidates.find((p): p is aws.Provider => p instanceof aws.Provider);
  return provider ? { provider } : { parent: opts?.parent };
}
