/**
 * Which resources are "the data volume": the block volume a SyncServer component owns.
 * A resource's URN carries its parents' types (`...::athens-sync:aws:SyncServer$aws:ebs/volume:Volume::name`),
 * so a user's own volumes elsewhere in their program are never judged by these policies.
 */
export const DATA_VOLUME_TYPES: Readonly<Record<string, "aws" | "digitalocean" | "gcp" | "docker">> = {
  "aws:ebs/volume:Volume": "aws",
  "digitalocean:index/volume:Volume": "digitalocean",
  "gcp:compute/disk:Disk": "gcp",
  "docker:index/volume:Volume": "docker",
};

/** The component type token prefix every SyncServer shares (components/<cloud>/sync-server.ts). */
const COMPONENT_PREFIX = "athens-sync:";

export interface ResourceLike {
  readonly type: string;
  readonly urn: string;
  readonly name: string;
}

/** True when the resource is created by one of this package's SyncServer components. */
export function ownedBySyncServer(r: Pick<ResourceLike, "urn">): boolean {
  const typeChain = r.urn.split("::")[2] ?? "";
  return typeChain.split("$").slice(0, -1).some((t) => t.startsWith(COMPONENT_PREFIX));
}

/**
 * The data volume: a volume type, owned by a SyncServer, and (for Docker, where the
 * component also keeps Caddy's state and backups in volumes) the one named `-data`.
 */
export function isDataVolume(r: ResourceLike): boolean {
  const cloud = DATA_VOLUME_TYPES[r.type];
  if (!cloud || !ownedBySyncServer(r)) return false;
  return cloud !== "docker" || r.name.endsWith("-data");
}
