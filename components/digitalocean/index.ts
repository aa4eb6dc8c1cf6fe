import type { SyncProvider } from "../contract";
import { SyncServer } from "./sync-server";

export { SyncServer, DO_TYPE, doVolumePath } from "./sync-server";

export const digitaloceanProvider = {
  name: "digitalocean",
  create: (name, args, opts) => new SyncServer(name, args, opts),
} satisfies SyncProvider;
