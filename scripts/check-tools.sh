#!/usr/bin/env bash
# The one list of tools each part of the project needs, checked up front so that a missing
# tool is one clear line here, never a failed assertion deep in a test.
#   scripts/check-tools.sh tests [local e2e]      one line per missing tool; exit 1 if any
#   scripts/check-tools.sh --packages tests ...   the Debian/Ubuntu packages that provide them
# Groups: tests (`npm test`), local (`npm run local`), e2e (`npm run test:e2e`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
want_node=$(cut -d. -f1 <"$here/../.nvmrc" | tr -d ' \nv')

# group | command | Debian/Ubuntu package | why it is needed
TOOLS=(
  "tests|caddy|caddy|the renderer tests run \`caddy validate\` on each rendered Caddyfile"
  "tests|cloud-init|cloud-init|the renderer tests run \`cloud-init schema\` on each VM's user data"
  "tests|jq|jq|the DigitalOcean snapshot job (run by its test) parses API answers with jq"
  "tests|curl|curl|the DigitalOcean snapshot job (run by its test) calls the API with curl"
  "tests|losetup|util-linux|the volume script is tested against a real loop device"
  "tests|blkid|util-linux|the volume script probes the device with blkid"
  "tests|mkfs.ext4|e2fsprogs|the volume script formats a blank volume"
  "tests|qemu-img|qemu-utils|the VM suite's guest-image script is tested up to its disk image (qemu-img convert)"
  "tests|openssl|openssl|the operator CLI's TLS test makes trusted, untrusted and expiring certificates"
  "tests|iptables|iptables|the VM's metadata block is tested in a private network namespace (without iptables that test is skipped)"
  "local e2e|docker|docker.io|the local stack and the e2e suite drive Docker with its CLI"
  "local e2e|dockerd|docker.io|the local stack and the e2e suite run on a Docker engine (a CLI alone is not one)"
  "local e2e|compose|docker-compose|the local stack and the e2e suite run the VM's compose file"
  "local e2e|curl|curl|readiness probes through Caddy"
  "local e2e|debootstrap|debootstrap|base images are built from Debian when Docker Hub is unreachable"
  # GitHub's ubuntu-24.04 image already links /usr/bin/chromium (actions/runner-images,
  # images/ubuntu/scripts/build/install-google-chrome.sh); Debian installs the package.
  "e2e|chromium|chromium|the e2e suite drives the demo page in headless Chromium (playwright-core downloads no browser)"
)

have() {
  case "$1" in
    compose) docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 ;;
    # An engine that already answers (Docker Desktop, a systemd docker-ce, DOCKER_HOST) will do;
    # otherwise the machine needs dockerd itself, which setup.sh starts. A machine may ship the
    # docker CLI with no engine (seen on CI: /usr/local/bin/docker 28, no dockerd).
    dockerd) docker info >/dev/null 2>&1 || [ -x "$(command -v dockerd)" ] || [ -x /usr/sbin/dockerd ] ;;
    *) command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ] ;;
  esac
}

packages=0
if [ "${1:-}" = "--packages" ]; then packages=1; shift; fi
groups=" ${*:-tests} "

missing=()
pkgs=()
for row in "${TOOLS[@]}"; do
  IFS='|' read -r in cmd pkg why <<<"$row"
  hit=0
  for g in $in; do case "$groups" in *" $g "*) hit=1 ;; esac; done
  [ "$hit" = 1 ] || continue
  have "$cmd" && continue
  case " ${pkgs[*]-} " in *" $pkg "*) ;; *) pkgs+=("$pkg") ;; esac
  missing+=("missing: $cmd  ($why; Debian/Ubuntu package: $pkg)")
done

if [ "$packages" = 1 ]; then
  echo "${pkgs[*]-}"
  exit 0
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt "$want_node" ]; then
  missing+=("missing: node $want_node  (found $(node --version 2>/dev/null || echo none); scripts/setup.sh installs Node $(tr -d ' \n' <"$here/../.nvmrc") from the npm registry into /opt/node-v$(tr -d ' \n' <"$here/../.nvmrc"))")
fi
case "$groups" in
  *" tests "*|*" e2e "*)
    [ "$(id -u)" -eq 0 ] || missing+=("missing: root  (the volume script's test attaches a loop device; run as root or with sudo)") ;;
esac

if [ "${#missing[@]}" -gt 0 ]; then
  printf '%s\n' "${missing[@]}" >&2
  echo "scripts/setup.sh ${*:-tests} installs what is missing (Debian or Ubuntu)." >&2
  exit 1
fi
