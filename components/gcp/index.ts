import type { SyncProvider } from "../contract";
import { SyncServer } from "./sync-server";

export { SyncServer, GCP_TYPE, gcpDevicePath, retentionDays } from "./sync-server";

export const gcpProvider = {
  name: "gcp",
  create: (name, args, opts) => new SyncServer(name, args, opts),
} satisfies SyncProvider;
