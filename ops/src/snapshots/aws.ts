import { DescribeSnapshotsCommand, EC2Client, type Filter, type Snapshot as Ec2Snapshot } from "@aws-sdk/client-ec2";
import { SNAPSHOT_TAG } from "../../../components/spec";
import type { StackOutputs } from "./outputs";
import { DEFAULT_MAX_PAGES, type ListOptions, newestFirst, type Snapshot, SnapshotListError } from "./types";

/**
 * EBS snapshots of this stack, through EC2 DescribeSnapshots
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeSnapshots.html) with
 * the SDK's default credential chain: the same environment, profile, SSO or instance role
 * that Pulumi's AWS provider uses. Two queries, merged: the stack's DLM target tag (every
 * scheduled snapshot, of every volume the stack has had: DLM copies the volume's tags),
 * and the stack's volume ids (snapshots taken by hand). Only completed snapshots are
 * listed: a volume cannot be created from one still pending.
 */
export async function listAwsSnapshots(outputs: StackOutputs, opts: ListOptions = {}): Promise<Snapshot[]> {
  const env = opts.env ?? process.env;
  const region = outputs.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region) throw new SnapshotListError("no AWS region: the stack outputs carry none (run `pulumi up` once to export it) and AWS_REGION is unset");
  const endpoint = opts.endpoints?.aws ?? env.ATHENS_SYNC_AWS_ENDPOINT;
  const client = new EC2Client({ region, ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });
  const volumes = [outputs.volumeId, ...outputs.retainedVolumeIds];
  const tag = outputs.snapshotTag ?? { key: SNAPSHOT_TAG, value: "" };
  try {
    const queries: Filter[][] = [[{ Name: "volume-id", Values: volumes }]];
    if (tag.value) queries.unshift([{ Name: `tag:${tag.key}`, Values: [tag.value] }]);
    const found = new Map<string, Ec2Snapshot>();
    for (const filters of queries) {
      for (const s of await describeAll(client, filters, opts.maxPages ?? DEFAULT_MAX_PAGES)) if (s.SnapshotId) found.set(s.SnapshotId, s);
    }
    // The API filtered already; this keeps the promise if it ever did not.
    const ours = [...found.values()].filter((s) => volumes.includes(s.VolumeId ?? "") || (tag.value !== "" && (s.Tags ?? []).some((t) => t.Key === tag.key && t.Value === tag.value)));
    return newestFirst(
      ours
        .filter((s) => s.State === "completed")
        .map((s) => ({
          id: s.SnapshotId!,
          createdAt: (s.StartTime ?? new Date(0)).toISOString(),
          sizeGiB: s.VolumeSize ?? 0,
          cloud: "aws" as const,
          ...(s.Description ? { description: s.Description } : {}),
        })),
    );
  } finally {
    client.destroy();
  }
}

async function describeAll(client: EC2Client, filters: Filter[], maxPages: number): Promise<Ec2Snapshot[]> {
  const out: Ec2Snapshot[] = [];
  let token: string | undefined;
  for (let page = 1; ; page++) {
    if (page > maxPages) throw new SnapshotListError(`DescribeSnapshots returned more than ${maxPages} pages; stopping`);
    // OwnerIds self: only this account's snapshots, never public ones that match a tag.
    const res = await client.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"], Filters: filters, MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
    out.push(...(res.Snapshots ?? []));
    token = res.NextToken;
    if (!token) return out;
  }
}
