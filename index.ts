import { createSyncServer, stackConfig } from "./components";

/**
 * The stack entry point, written against the package's public API (the same one a
 * user's program or a template imports): parse the config (a bad key stops here, before
 * any resource), build the configured provider's SyncServer, export its outputs.
 */
export = async () => {
  const config = stackConfig();
  const server = await createSyncServer("sync", { config });
  return {
    provider: config.provider,
    url: server.url,
    hostname: server.hostname,
    ip: server.ip,
    volumeId: server.volumeId,
    image: server.image,
    token: server.token,
    // What the operator CLI (athens-sync) reads: admin token (secret), cloud and the VM and volume to act on.
    adminToken: server.adminToken,
    cloud: server.cloud,
    region: server.region,
    instanceId: server.instanceId,
    retainedVolumeIds: server.retainedVolumeIds,
    snapshotTag: server.snapshotTag,
    // Only where the cloud has them (GCP: zone, project, instanceName; docker: container).
    ...(server.zone ? { zone: server.zone } : {}),
    ...(server.project ? { project: server.project } : {}),
    ...(server.instanceName ? { instanceName: server.instanceName } : {}),
    ...(server.container ? { container: server.container } : {}),
  };
};
