import * as pulumi from "@pulumi/pulumi";
import { parseConfig, projectConfig } from "./components/config";
import { loadProvider } from "./components/providers";

/**
 * The stack entry point: parse the config (a bad key stops here, before any resource),
 * pick the provider, build its one SyncServer component, export its outputs.
 */
export = async () => {
  const config = parseConfig(projectConfig(pulumi.runtime.allConfig()));
  const provider = await loadProvider(config.provider);
  const server = provider.create("sync", { config });
  return {
    provider: config.provider,
    url: server.url,
    hostname: server.hostname,
    ip: server.ip,
    volumeId: server.volumeId,
    image: server.image,
    token: server.token,
  };
};
