#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine: starts Debian's dockerd in the
# background when none is running. Fails loudly, with the reason, when it cannot.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
# /usr/sbin is not on every PATH (a non-login root shell in CI may lack it).
dockerd=$(command -v dockerd 2>/dev/null || true)
for p in /usr/sbin/dockerd /usr/bin/dockerd; do [ -x "$dockerd" ] || dockerd=$p; done
if [ ! -x "$dockerd" ]; then
  echo "docker-engine: dockerd is not installed (apt-get install -y docker.io)" >&2
  exit 1
fi
log=${DOCKERD_LOG:-/tmp/athens-sync-dockerd.log}
echo "docker-engine: starting dockerd (log: $log)"
PATH="$PATH:/usr/sbin:/sbin" nohup "$dockerd" >"$log" 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "docker-engine: ready ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "docker-engine: dockerd did not answer within 60s; its log ends with:" >&2
tail -n 30 "$log" >&2 || true
exit 1
