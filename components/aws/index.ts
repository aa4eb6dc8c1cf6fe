import type { SyncProvider } from "../contract";
import { SyncServer } from "./sync-server";

export { SyncServer, AWS_TYPE, ebsDevicePaths } from "./sync-server";

export const awsProvider = {
  name: "aws",
  create: (name, args, opts) => new SyncServer(name, args, opts),
} satisfies SyncProvider;
