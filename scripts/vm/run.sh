#!/usr/bin/env bash
# `npm run test:vm`: boots each cloud's real user data on a qemu (TCG) VM built from
# Debian packages, with a data disk shaped like that cloud's volume, on a confined
# network that reaches only an apt cache and a registry on this host's loopback.
# See README "VM suite". Needs root (debootstrap, dockerd).
set -euo pipefail
cd "$(dirname "$0")/../.."
t0=$(date +%s)
step() { echo "vm: [$(( $(date +%s) - t0 ))s] $*"; }

# Tools, checked once up front.
need=(qemu-system-x86_64 qemu-img cloud-localds debootstrap apt-cacher-ng docker-registry dockerd socat dumpe2fs debugfs curl)
missing=()
for t in "${need[@]}"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "vm: missing tools: ${missing[*]}. Install them with: sudo bash scripts/vm/setup.sh" >&2
  exit 1
fi
[ "$(id -u)" -eq 0 ] || { echo "vm: the VM suite needs root (debootstrap, dockerd)" >&2; exit 1; }

export VM_CACHE=${VM_CACHE:-${XDG_CACHE_HOME:+$XDG_CACHE_HOME/athens-sync-vm}}
export VM_CACHE=${VM_CACHE:-/var/cache/athens-sync-vm}
mkdir -p "$VM_CACHE"
# Ports below 32768: above that, Linux hands them out as ephemeral ports and a bind can fail.
REGISTRY_PORT=${VM_REGISTRY_PORT:-25000}
export VM_REGISTRY_PORT=$REGISTRY_PORT VM_APT_PORT=${VM_APT_PORT:-23142} VM_HTTPS_PORT=${VM_HTTPS_PORT:-24443}

# The guest runs the Debian release the product's VMs run (see test/vm/release.ts).
suite=$(npx tsx test/vm/release.ts)
step "guest image: Debian $suite"
s=$(date +%s)
# The build fetches through the suite's apt cache, so the guest's first boot finds the
# packages they share already cached. The suite (services.ts) runs its own instance later.
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
# VM_PREBUILT_IMAGE: an image directory to boot instead (while working on the harness).
if [ -n "${VM_PREBUILT_IMAGE:-}" ]; then
  VM_IMAGE_DIR=$VM_PREBUILT_IMAGE
else
  bash scripts/vm/apt-cache.sh "$VM_APT_PORT" "$VM_CACHE/apt-cacher-ng" >>"$VM_CACHE/apt-cache-build.log" 2>&1 &
  apt_pid=$!
  pids+=("$apt_pid")
  for _ in $(seq 1 60); do (exec 3<>"/dev/tcp/127.0.0.1/$VM_APT_PORT") 2>/dev/null && break; sleep 0.5; done
  VM_IMAGE_DIR=$(VM_DEBIAN_MIRROR="http://127.0.0.1:$VM_APT_PORT/deb.debian.org/debian" bash scripts/vm/guest-image.sh "$suite")
  kill "$apt_pid"; wait "$apt_pid" 2>/dev/null || true
fi
[ -s "$VM_IMAGE_DIR/root.qcow2" ] && [ -s "$VM_IMAGE_DIR/vmlinuz" ] && [ -s "$VM_IMAGE_DIR/initrd.img" ] \
  || { echo "vm: no guest image at '$VM_IMAGE_DIR' (root.qcow2, vmlinuz, initrd.img); see the guest-image output above" >&2; exit 1; }
export VM_IMAGE_DIR
echo "vm: STEP image build: $(( $(date +%s) - s ))s ($VM_IMAGE_DIR)"

step "docker engine, base images, server image"
s=$(date +%s)
bash scripts/docker-engine.sh
eval "$(bash images/base-images.sh | grep -E '^(NODE|CADDY)_IMAGE=')"
# VM_SERVER_LOCAL: an image already built from server/ (saves the build on a busy machine).
if [ -z "${VM_SERVER_LOCAL:-}" ]; then
  docker build -q --build-arg "NODE_IMAGE=$NODE_IMAGE" --build-arg BUILD_LABEL=vm -t athens-sync-server:vm -f server/Dockerfile . >/dev/null
fi

# The loopback registry (Debian's docker-registry): the guest pulls both images from it.
regdir="$VM_CACHE/registry"
mkdir -p "$regdir/data"
cat >"$regdir/config.yml" <<YAML
version: 0.1
log: { level: warn, fields: { service: registry } }
storage: { filesystem: { rootdirectory: $regdir/data }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$REGISTRY_PORT }
YAML
docker-registry serve "$regdir/config.yml" >"$regdir/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 30); do curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null 2>&1 && break; sleep 1; done
curl -fsS "http://127.0.0.1:$REGISTRY_PORT/v2/" >/dev/null || { echo "vm: the registry did not start; see $regdir/registry.log" >&2; exit 1; }
push() { # local image, repository -> its manifest digest in the loopback registry
  local ref="127.0.0.1:$REGISTRY_PORT/$2:vm"
  docker tag "$1" "$ref" >/dev/null
  local digest
  digest=$(docker push "$ref" | sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p')
  [ -n "$digest" ] || { echo "vm: pushing $1 gave no digest" >&2; exit 1; }
  echo "$digest"
}
# The suite pushes each image again to whatever repository a cloud's user data names.
export VM_SERVER_LOCAL=${VM_SERVER_LOCAL:-athens-sync-server:vm} VM_CADDY_LOCAL=$CADDY_IMAGE
VM_SERVER_DIGEST=$(push "$VM_SERVER_LOCAL" sync-server)
VM_CADDY_DIGEST=$(push "$VM_CADDY_LOCAL" caddy)
export VM_SERVER_DIGEST VM_CADDY_DIGEST VM_CADDY_REF="10.0.2.101:5000/caddy@$VM_CADDY_DIGEST"
echo "vm: STEP images in the loopback registry: $(( $(date +%s) - s ))s (server $VM_SERVER_DIGEST, caddy $VM_CADDY_DIGEST)"

step "boots"
npx jest -c jest.vm.config.js --runInBand "$@"
echo "vm: STEP total: $(( $(date +%s) - t0 ))s"
