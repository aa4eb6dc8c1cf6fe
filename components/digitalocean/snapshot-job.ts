import type { ExtraUnit } from "../render/cloud-init";
import { shellQuote } from "../render/volume-script";

export const SNAPSHOT_SCRIPT = "/usr/local/sbin/sync-do-snapshot";
export const SNAPSHOT_ENV = "/etc/sync/do-snapshot.env";
/** Only snapshots this job made carry this name prefix; retention never touches others. */
export const SNAPSHOT_PREFIX = "sync-auto-";

/**
 * DigitalOcean has no scheduled volume snapshots, so the Droplet runs this job from a
 * systemd timer: snapshot the volume through the API, then delete this job's oldest
 * snapshots beyond the retention count. POSIX sh + curl + jq.
 */
/**
 * The token's scopes, all this job needs (DigitalOcean custom-scoped tokens):
 * create and list snapshots of a volume, delete a volume snapshot. No `tag:create`: the
 * job marks its snapshots by name prefix, not by tag.
 */
export const SNAPSHOT_TOKEN_SCOPES = ["block_storage:read", "block_storage_snapshot:create", "block_storage_snapshot:read", "block_storage_snapshot:delete"] as const;
/** Pages of the snapshot list the job reads at most (200 a page). */
export const MAX_PAGES = 50;

export function renderSnapshotScript(): string {
  return `#!/bin/sh
# Rendered by components/digitalocean/snapshot-job.ts.
set -eu
. ${SNAPSHOT_ENV}
API="\${DO_API:-https://api.digitalocean.com/v2}"
auth="Authorization: Bearer $DO_TOKEN"
name="${SNAPSHOT_PREFIX}$(date -u +%Y%m%dT%H%M%SZ)"
list=$(mktemp)
trap 'rm -f "$list"' EXIT

# Flush the page cache so the snapshot holds everything the server has fsynced.
sync
curl -fsS --max-time 120 -X POST -H "$auth" -H "Content-Type: application/json" \\
  -d "{\\"name\\":\\"$name\\"}" \\
  "$API/volumes/$VOLUME_ID/snapshots" >/dev/null
echo "sync-snapshot: created $name of volume $VOLUME_ID"

# Every page of the volume's snapshots (the API pages its lists; follow links.pages.next).
url="$API/volumes/$VOLUME_ID/snapshots?page=1&per_page=200"
pages=0
while [ -n "$url" ]; do
  pages=$((pages + 1))
  if [ "$pages" -gt ${MAX_PAGES} ]; then echo "sync-snapshot: more than ${MAX_PAGES} pages of snapshots; stopping" >&2; exit 1; fi
  page=$(curl -fsS --max-time 120 -H "$auth" "$url")
  printf '%s' "$page" | jq -c '.snapshots[]' >> "$list"
  url=$(printf '%s' "$page" | jq -r '.links.pages.next // empty')
done

jq -s -r --argjson keep "$RETAIN" --arg prefix "${SNAPSHOT_PREFIX}" \\
    '[.[] | select(.name | startswith($prefix))] | sort_by(.created_at) | reverse | .[$keep:] | .[].id' "$list" \\
  | while read -r id; do
      curl -fsS --max-time 120 -X DELETE -H "$auth" "$API/volumes/snapshots/$id"
      echo "sync-snapshot: deleted $id (over the retention of $RETAIN)"
    done
`;
}

/** The job's env file, sourced by sh as root: every value single-quoted, so none is ever shell syntax. */
export function renderSnapshotEnv(token: string, volumeId: string, retain: number): string {
  return `DO_TOKEN=${shQuote("DO_TOKEN", token)}\nVOLUME_ID=${shQuote("VOLUME_ID", volumeId)}\nRETAIN=${retain}\n`;
}

function shQuote(key: string, value: string): string {
  if (/[\r\n\0]/.test(value)) throw new Error(`${key} must be a single line`);
  return shellQuote(value);
}

/** systemd OnCalendar for the schedule; Persistent catches up after downtime. */
export function snapshotUnits(schedule: "daily" | "hourly"): ExtraUnit[] {
  return [
    {
      name: "sync-snapshot.service",
      enable: false,
      content: `[Unit]\nDescription=Snapshot the sync data volume (DigitalOcean API)\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nExecStart=${SNAPSHOT_SCRIPT}\n`,
    },
    {
      name: "sync-snapshot.timer",
      enable: true,
      content: `[Unit]\nDescription=Scheduled snapshots of the sync data volume\n\n[Timer]\nOnCalendar=${schedule === "hourly" ? "hourly" : "*-*-* 03:00:00"}\nRandomizedDelaySec=300\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n`,
    },
  ];
}
