import type { SyncProvider } from "../contract";
import { SyncServer } from "./sync-server";

export { SyncServer, DOCKER_TYPE } from "./sync-server";
export { containerSpec, type ContainerSpec } from "./from-compose";

export const dockerProvider = {
  name: "docker",
  create: (name, args, opts) => new SyncServer(name, args, opts),
} satisfies SyncProvider;
