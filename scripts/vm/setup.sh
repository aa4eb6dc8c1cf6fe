#!/usr/bin/env bash
# Installs, from Debian's archive, every tool the VM suite (`npm run test:vm`) needs on
# the host: qemu (TCG is enough), qemu-img, cloud-localds, debootstrap, the apt cache
# and the registry the guest reaches over its confined network, and a Docker engine to
# build the server image, then Node and the npm dependencies (scripts/setup.sh e2e).
# Idempotent; safe to run on every CI run.
set -euo pipefail
PKGS=(qemu-system-x86 qemu-utils cloud-image-utils debootstrap apt-cacher-ng docker-registry
      docker.io docker-compose socat curl e2fsprogs)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "vm-setup: apt-get install ${missing[*]}"
  # The packaged services must not start on their own: the suite runs its own
  # instances on loopback, with its own state, and stops them afterwards.
  # An existing policy-rc.d (container images carry one) is left exactly as it is.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have no package lists yet: refresh them unless less than a day old.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n1)" ]; then
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Node, the npm dependencies (the suite imports the server's test helpers) and a Docker
# engine: the e2e group of the project's setup, which skips what is already there.
bash "$(dirname "$0")/../setup.sh" e2e
echo "vm-setup: ok"
