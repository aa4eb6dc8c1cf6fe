import { z } from "zod";
import { getJson, relativeTo } from "./http";
import type { StackOutputs } from "./outputs";
import { DEFAULT_MAX_PAGES, type ListOptions, newestFirst, type Snapshot, SnapshotListError } from "./types";

export const DO_API = "https://api.digitalocean.com/v2";

/**
 * GET /v2/volumes/{volume_id}/snapshots
 * (https://docs.digitalocean.com/reference/api/digitalocean/#tag/Block-Storage-Actions and
 * #tag/Block-Storage/operation/volumeSnapshots_list): `snapshots`, paged by
 * `links.pages.next`, `meta.total`. `min_disk_size` is the smallest volume (GiB) that can be
 * created from the snapshot; `size_gigabytes` is its billable size.
 */
const Page = z.object({
  snapshots: z.array(
    z.looseObject({
      id: z.string(),
      name: z.string(),
      created_at: z.string(),
      resource_id: z.string(),
      resource_type: z.string(),
      min_disk_size: z.number(),
      size_gigabytes: z.number().optional(),
      regions: z.array(z.string()).default([]),
    }),
  ),
  links: z.looseObject({ pages: z.looseObject({ next: z.string().optional() }).optional() }).optional(),
  meta: z.looseObject({ total: z.number() }).optional(),
});

/**
 * Volume snapshots of every data volume the stack has (the attached one and any it
 * retains), with the token Pulumi's DigitalOcean provider reads (DIGITALOCEAN_TOKEN, else
 * DIGITALOCEAN_ACCESS_TOKEN). Scoped tokens need `block_storage_snapshot:read`.
 */
export async function listDigitalOceanSnapshots(outputs: StackOutputs, opts: ListOptions = {}): Promise<Snapshot[]> {
  const env = opts.env ?? process.env;
  const token = env.DIGITALOCEAN_TOKEN ?? env.DIGITALOCEAN_ACCESS_TOKEN;
  if (!token) throw new SnapshotListError("no DigitalOcean token: set DIGITALOCEAN_TOKEN (the same token `pulumi config get digitalocean:token` holds, or one with block_storage_snapshot:read)");
  const base = opts.endpoints?.digitalocean ?? env.ATHENS_SYNC_DO_API ?? DO_API;
  const maxPages = opts.maxPages ?? DEFAULT_MAX_PAGES;
  const out: Snapshot[] = [];
  for (const volumeId of [outputs.volumeId, ...outputs.retainedVolumeIds]) {
    let next: string | undefined = `volumes/${encodeURIComponent(volumeId)}/snapshots?page=1&per_page=200`;
    for (let page = 1; next; page++) {
      if (page > maxPages) throw new SnapshotListError(`volume ${volumeId} has more than ${maxPages} pages of snapshots; stopping`);
      const body = Page.parse(await getJson(base, next, token, `listing the snapshots of volume ${volumeId}`));
      for (const s of body.snapshots) {
        // The endpoint lists one volume's snapshots; this keeps it so.
        if (s.resource_type !== "volume" || s.resource_id !== volumeId) continue;
        out.push({ id: s.id, createdAt: new Date(s.created_at).toISOString(), sizeGiB: s.min_disk_size, cloud: "digitalocean", description: `${s.name} (${s.regions.join(", ") || "no region"})` });
      }
      next = body.links?.pages?.next ? relativeTo(base, body.links.pages.next) : undefined;
    }
  }
  return newestFirst(out);
}
