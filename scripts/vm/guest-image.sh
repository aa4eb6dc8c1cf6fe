#!/usr/bin/env bash
# Builds the VM suite's guest image from Debian packages with debootstrap, the way a
# cloud's Debian image is built: systemd, udev, the stock kernel and initramfs,
# cloud-init (NoCloud), ifupdown networking, locales. Writes, under $VM_CACHE/image-<hash>/:
#   root.qcow2   the root disk; every boot gets a fresh overlay on top of it
#   vmlinuz, initrd.img   taken from the image, for qemu -kernel/-initrd
# The hash covers this script, the files in guest/ and the suite (Debian release), so a
# changed recipe builds a new image; an unchanged one is reused. Prints the image dir.
#
#   guest-image.sh <suite>     e.g. bookworm or trixie
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
SUITE=${1:?usage: guest-image.sh <debian-suite>}
CACHE=${VM_CACHE:-/var/cache/athens-sync-vm}
MIRROR=${VM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Inside the guest, apt reaches Debian only through the apt cache at this guestfwd address.
GUEST_APT=${VM_GUEST_APT:-10.0.2.100:3142}
GUEST_REGISTRY=${VM_GUEST_REGISTRY:-10.0.2.101:5000}
# The registry hosts DigitalOcean's and GCP's components name (test/vm/user-data.ts).
DO_REGISTRY=registry.digitalocean.com
GCP_REGISTRY=us-central1-docker.pkg.dev
# The mirror is not in the hash: it only says where the same packages come from (the
# suite passes its loopback apt cache, so a cold build also warms the guest's cache).
hash=$( (echo "$SUITE $GUEST_APT $GUEST_REGISTRY"; cat "$0" "$here"/guest/*) | sha256sum | cut -c1-16)
out="$CACHE/image-$SUITE-$hash"
if [ -s "$out/root.qcow2" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ]; then
  echo "$out"; exit 0
fi
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/build-XXXXXX")
# A failed debootstrap can leave its chroot's mounts (proc, sys) behind: unmount them
# first, and never let rm cross into another filesystem.
# (set +e: under set -e and pipefail, grep finding no mount would end the trap before rm
# and turn a finished build into exit 1.)
cleanup() {
  set +e
  grep -o " $work/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root="$work/root"

# python3-cffi-backend: debootstrap does not resolve python3-cryptography's virtual
# dependency on python3-cffi-backend-api-*, so it is named. locales: cloud-init's locale
# module fails without it, an error unrelated to the product. dbus: without it
# systemd-logind does not run, and nothing handles the ACPI power button a cloud presses
# to stop a VM (a first run waited on a VM that ignored it; cloud images carry dbus).
include=systemd,systemd-sysv,dbus,udev,sudo,openssh-server,linux-image-amd64,initramfs-tools,cloud-init,ifupdown,isc-dhcp-client,python3-cffi-backend,locales,ca-certificates,e2fsprogs,iproute2,procps,util-linux,kmod
echo "guest-image: debootstrap $SUITE ($include)" >&2
debootstrap --variant=minbase --include="$include" "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 40 "$work/debootstrap.log" >&2; exit 1; }

security="deb http://$GUEST_APT/security.debian.org/debian-security $SUITE-security main"
cat >"$root/etc/apt/sources.list" <<SOURCES
# The VM suite's guest reaches Debian only through the host's apt cache (apt-cacher-ng),
# over qemu's guestfwd; the cache itself fetches from Debian's mirrors.
deb http://$GUEST_APT/deb.debian.org/debian $SUITE main
deb http://$GUEST_APT/deb.debian.org/debian $SUITE-updates main
$security
SOURCES
rm -f "$root"/etc/apt/sources.list.d/*.sources
cat >"$root/etc/cloud/cloud.cfg.d/90-vm-suite.cfg" <<CFG
# The VM suite's image: NoCloud only, and keep the sources.list above (the apt cache),
# as a cloud's own image keeps its mirror.
datasource_list: [ NoCloud, None ]
apt:
  preserve_sources_list: true
CFG
# The test registry on loopback speaks plain HTTP; cloud registries (ECR, DOCR, Artifact
# Registry) speak TLS. The names of DigitalOcean's and GCP's registries, which their
# components write into the user data themselves, resolve to the loopback registry
# (guestfwd on 80 and 443 as well), and Docker may use plain HTTP with them. These are
# the only registry settings the harness makes; the AWS user data names the registry
# the (mocked) ECR repository reports, the loopback address itself.
mkdir -p "$root/etc/docker"
host=${GUEST_REGISTRY%:*}
printf '{ "insecure-registries": ["%s", "%s", "%s"] }\n' "$GUEST_REGISTRY" "$DO_REGISTRY" "$GCP_REGISTRY" >"$root/etc/docker/daemon.json"
printf '127.0.0.1 localhost\n%s %s %s\n' "$host" "$DO_REGISTRY" "$GCP_REGISTRY" >"$root/etc/hosts"
# Harness-only udev rules that give qemu's disks the by-id names each cloud's image creates.
install -m 0644 "$here"/guest/*.rules "$root/etc/udev/rules.d/"
echo "/dev/vda / ext4 defaults,errors=remount-ro 0 1" >"$root/etc/fstab"
echo "localhost" >"$root/etc/hostname"
# C.UTF-8 is built into glibc: with it set here, cloud-init's locale module has nothing
# to generate, and `cloud-init status` reports the product's errors, not a missing locale.
echo "LANG=C.UTF-8" >"$root/etc/default/locale"
# The root disk's size is the overlay's; no growpart needed for a fixed 8 GiB image.
cp "$root"/boot/vmlinuz-* "$work/vmlinuz"
cp "$root"/boot/initrd.img-* "$work/initrd.img"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
echo "guest-image: root filesystem ($(du -sm "$root" | cut -f1) MiB)" >&2
# stdout carries only the image directory (the caller reads it): mkfs prints "Creating
# regular file" there even with -q, which once became part of the path a cold CI run used.
mkfs.ext4 -q -L root -d "$root" "$work/root.raw" 8G >&2
qemu-img convert -O qcow2 "$work/root.raw" "$work/root.qcow2" >&2
mkdir -p "$out.tmp"
mv "$work/root.qcow2" "$work/vmlinuz" "$work/initrd.img" "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out"
