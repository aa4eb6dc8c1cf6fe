import { execFile } from "node:child_process";
import { z } from "zod";
import { SNAPSHOT_TAG } from "../../../components/spec";
import { getJson } from "./http";
import type { StackOutputs } from "./outputs";
import { DEFAULT_MAX_PAGES, type ListOptions, newestFirst, type Snapshot, SnapshotListError } from "./types";

export const GCP_API = "https://compute.googleapis.com";
const COMPUTE_URL = "https://www.googleapis.com/compute/v1/";

/**
 * snapshots.list (https://cloud.google.com/compute/docs/reference/rest/v1/snapshots/list):
 * `items`, paged by `nextPageToken`; `diskSizeGb` is an int64, so a JSON string;
 * `creationTimestamp` is RFC 3339 with the zone offset; only READY snapshots can be
 * restored from.
 */
const Page = z.looseObject({
  items: z
    .array(
      z.looseObject({
        name: z.string(),
        creationTimestamp: z.string(),
        status: z.string(),
        diskSizeGb: z.union([z.string(), z.number()]),
        sourceDisk: z.string().optional(),
        description: z.string().optional(),
        labels: z.record(z.string(), z.string()).optional(),
      }),
    )
    .default([]),
  nextPageToken: z.string().optional(),
});

/** `projects/P/zones/Z/disks/NAME` (the disk's Pulumi id) → its project and the URL snapshots name as sourceDisk. */
export function diskRef(id: string): { project: string; url: string } {
  const m = /^(?:https:\/\/www\.googleapis\.com\/compute\/v1\/)?projects\/([^/]+)\/zones\/([^/]+)\/disks\/([^/]+)$/.exec(id);
  if (!m) throw new SnapshotListError(`volume id ${id} is not a GCE disk (projects/P/zones/Z/disks/NAME)`);
  return { project: m[1]!, url: `${COMPUTE_URL}projects/${m[1]}/zones/${m[2]}/disks/${m[3]}` };
}

/**
 * Snapshots of this stack in the disk's project: those carrying the stack's snapshot
 * label (the schedule sets it, on every disk the stack has had) or taken of one of the
 * stack's disks. Credentials as Pulumi's GCP provider: GOOGLE_OAUTH_ACCESS_TOKEN, else
 * Application Default Credentials through `gcloud auth application-default print-access-token`.
 */
export async function listGcpSnapshots(outputs: StackOutputs, opts: ListOptions = {}): Promise<Snapshot[]> {
  const env = opts.env ?? process.env;
  const disks = [outputs.volumeId, ...outputs.retainedVolumeIds].map(diskRef);
  const project = disks[0]!.project;
  const label = outputs.snapshotTag ?? undefined;
  const clauses = [...(label ? [`(labels.${label.key} = "${label.value}")`] : []), ...disks.map((d) => `(sourceDisk = "${d.url}")`)];
  const filter = clauses.join(" OR ");
  const token = await accessToken(env, opts.run ?? runCommand);
  const base = opts.endpoints?.gcp ?? env.ATHENS_SYNC_GCP_API ?? GCP_API;
  const maxPages = opts.maxPages ?? DEFAULT_MAX_PAGES;
  const diskUrls = new Set(disks.map((d) => d.url));
  const out: Snapshot[] = [];
  let pageToken: string | undefined;
  for (let page = 1; ; page++) {
    if (page > maxPages) throw new SnapshotListError(`project ${project} has more than ${maxPages} pages of matching snapshots; stopping`);
    const query = new URLSearchParams({ filter, maxResults: "500", ...(pageToken ? { pageToken } : {}) });
    const body = Page.parse(await getJson(base, `compute/v1/projects/${encodeURIComponent(project)}/global/snapshots?${query}`, token, `listing the snapshots of project ${project}`));
    for (const s of body.items) {
      // The API filtered already; this keeps the promise if it ever did not.
      const ours = (label && s.labels?.[label.key] === label.value) || (s.sourceDisk !== undefined && diskUrls.has(s.sourceDisk.replace(/^https:\/\/compute\.googleapis\.com\/compute\/v1\//, COMPUTE_URL)));
      if (!ours || s.status !== "READY") continue;
      out.push({ id: s.name, createdAt: new Date(s.creationTimestamp).toISOString(), sizeGiB: Number(s.diskSizeGb), cloud: "gcp", ...(s.description ? { description: s.description } : {}) });
    }
    pageToken = body.nextPageToken;
    if (!pageToken) return newestFirst(out);
  }
}

async function accessToken(env: NodeJS.ProcessEnv, run: NonNullable<ListOptions["run"]>): Promise<string> {
  if (env.GOOGLE_OAUTH_ACCESS_TOKEN) return env.GOOGLE_OAUTH_ACCESS_TOKEN;
  for (const args of [["auth", "application-default", "print-access-token"], ["auth", "print-access-token"]]) {
    const token = (await run("gcloud", args).catch(() => "")).trim();
    if (token) return token;
  }
  throw new SnapshotListError("no GCP credentials: run `gcloud auth application-default login` (as for `pulumi up`), or set GOOGLE_OAUTH_ACCESS_TOKEN");
}

function runCommand(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => execFile(command, [...args], { timeout: 30_000 }, (error, stdout) => (error ? reject(error) : resolve(stdout))));
}
