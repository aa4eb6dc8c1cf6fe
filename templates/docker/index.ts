import { stackConfig } from "athens-sync-deploy";
import { SyncServer } from "athens-sync-deploy/docker";

// The whole deployment: every athens-sync:* key of this stack, parsed and checked once
// (a bad key stops here, naming the key and the fix), then one component.
const server = new SyncServer("sync", { config: stackConfig({ provider: "docker" }) });

export const url = server.url;
export const hostname = server.hostname;
export const ip = server.ip;
export const volumeId = server.volumeId;
export const image = server.image;
export const token = server.token;
