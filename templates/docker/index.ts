import { stackConfig } from "athens-sync-deploy";
import { SyncServer } from "athens-sync-deploy/docker";

// The whole deployment: every athens-sync:* key of this stack, parsed and checked once
// (a bad key stops here, naming the key and the fix), then one component.
const server = new SyncServer("sync", { config: stackConfig({ provider: "docker" }) });

// The stack outputs; the operator CLI (`athens-sync status`, `snapshots`, `restore`) reads them.
export const { url, hostname, ip, volumeId, image, token, adminToken } = server;
export const { cloud, region, instanceId, retainedVolumeIds, snapshotTag, container } = server;
