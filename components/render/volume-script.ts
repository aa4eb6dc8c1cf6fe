import { MOUNT, SERVER_UID } from "../spec";

export interface VolumeScriptSpec {
  /** Stable by-id paths to wait for, first found wins (e.g. the provider's by-id path). */
  readonly devicePaths: readonly string[];
  readonly mount?: string;
  /** How long to wait for the attachment, which happens after the VM is running. */
  readonly waitSeconds?: number;
}

/** s as one sh word: single-quoted, its own single quotes closed and escaped. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A POSIX sh script that waits (bounded) for the data volume, formats it only when it
 * holds no filesystem and reads back blank, mounts it by UUID via fstab with nofail, and lays out
 * data/, backups/ and caddy/. Idempotent: every boot runs it, and a volume that already
 * holds data is never formatted.
 */
export function renderVolumeScript(spec: VolumeScriptSpec): string {
  const mount = spec.mount ?? MOUNT;
  const wait = spec.waitSeconds ?? 600;
  return `#!/bin/sh
# Prepares the sync server's data volume. Rendered by components/render/volume-script.ts.
set -eu
DEVICES=${shellQuote(spec.devicePaths.join(" "))}
MOUNT=${shellQuote(mount)}
WAIT=${wait}
FSTAB="\${SYNC_FSTAB:-/etc/fstab}"

log() { echo "sync-volume: $*"; logger -t sync-volume -- "$*" 2>/dev/null || true; }

found=""
waited=0
while [ -z "$found" ]; do
  for candidate in $DEVICES; do
    if [ -b "$candidate" ]; then found="$candidate"; break; fi
  done
  [ -n "$found" ] && break
  if [ "$waited" -ge "$WAIT" ]; then
    log "FATAL: the data volume ($DEVICES) did not appear within \${WAIT}s; nothing was formatted or mounted"
    exit 1
  fi
  if [ $((waited % 15)) -eq 0 ]; then log "waiting for the data volume ($DEVICES): \${waited}s of \${WAIT}s"; fi
  sleep 1
  waited=$((waited + 1))
done
dev=$(readlink -f "$found")
log "data volume is $found ($dev)"

# Format only a blank volume. blkid -p exits 2 when it finds no filesystem signature, but
# also when it could not open or read the device (util-linux misc-utils/blkid.c:
# lowprobe_device returns BLKID_EXIT_NOTFOUND for both), and mkfs.ext4 asks before it
# overwrites a filesystem only on a terminal (e2fsprogs misc/mke2fs.c, CHECK_FS_EXIST),
# which this boot has not. So a 2 is believed only when the device's first MiB reads back
# and is all zeros, as every cloud's new volume is; any other failure aborts rather than
# risk formatting a volume that holds data.
status=0
blkid -p "$dev" >/dev/null 2>&1 || status=$?
if [ "$status" -eq 2 ]; then
  if ! dd if="$dev" of=/dev/null bs=1048576 count=1 2>/dev/null; then
    log "FATAL: $dev cannot be read; refusing to format it"
    exit 1
  fi
  written=$(dd if="$dev" bs=1048576 count=1 2>/dev/null | tr -d '\\000' | wc -c)
  if [ "$written" -ne 0 ]; then
    log "FATAL: blkid finds no filesystem on $dev, yet its first MiB holds data; refusing to format it (if it really is to be emptied: wipefs -a $dev, then reboot)"
    exit 1
  fi
  log "no filesystem on $dev, and it is blank: creating ext4"
  mkfs.ext4 -q -L syncdata "$dev"
elif [ "$status" -ne 0 ]; then
  log "FATAL: blkid could not probe $dev (exit $status); refusing to format"
  exit 1
else
  log "existing filesystem on $dev: keeping it"
fi

uuid=$(blkid -p -s UUID -o value "$dev")
mkdir -p "$MOUNT"
if ! grep -q "^UUID=$uuid " "$FSTAB"; then
  echo "UUID=$uuid $MOUNT ext4 defaults,nofail,x-systemd.device-timeout=120s 0 2" >> "$FSTAB"
fi
# Every cloud grows a disk in place (volumeSizeGb up); grow ext4 to fill it. Before the
# mount (the usual case: a boot or a stack restart) offline, after a forced check, which
# works without the online-resize ioctl; if already mounted, online.
dev_bytes=$(blockdev --getsize64 "$dev")
fs_bytes=$(dumpe2fs -h "$dev" 2>/dev/null | awk -F: '/^Block count/ {c=$2} /^Block size/ {s=$2} END {printf "%.0f", c*s}')
if [ "$dev_bytes" -gt $((fs_bytes + 8388608)) ]; then
  log "the device ($dev_bytes bytes) is larger than its filesystem ($fs_bytes bytes): growing it"
  if mountpoint -q "$MOUNT"; then
    resize2fs "$dev" || log "WARNING: online resize2fs of $dev failed; the filesystem keeps its size until the next start"
  else
    fsck_status=0
    e2fsck -f -p "$dev" || fsck_status=$?
    if [ "$fsck_status" -le 1 ]; then
      resize2fs "$dev" && log "grew the filesystem on $dev to fill $dev_bytes bytes" || log "WARNING: resize2fs of $dev failed; the filesystem keeps its size"
    else
      log "WARNING: e2fsck found problems on $dev (exit $fsck_status); not resizing. Run e2fsck by hand."
    fi
  fi
fi
if ! mountpoint -q "$MOUNT"; then mount -T "$FSTAB" "$MOUNT"; fi
mkdir -p "$MOUNT/data" "$MOUNT/backups" "$MOUNT/caddy"
chown ${SERVER_UID}:${SERVER_UID} "$MOUNT/data" "$MOUNT/backups"
# Only the server (and root) may read the database, its backups and Caddy's keys.
chmod 0700 "$MOUNT/data" "$MOUNT/backups" "$MOUNT/caddy"
log "mounted $dev at $MOUNT"
`;
}
