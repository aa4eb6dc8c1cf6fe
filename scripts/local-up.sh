#!/usr/bin/env bash
# `npm run local`: the whole stack on this machine's Docker engine: the server image,
# and the same compose file and Caddyfile the VMs run, with Caddy's local CA.
#   npm run local            build, start, print the URL and token
#   npm run local -- down    stop it (data stays in .local-stack/volume)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${LOCAL_STACK_DIR:-.local-stack}
PROJECT=athens-sync-local
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi

if [ "${1:-}" = "down" ]; then
  "${compose[@]}" -p "$PROJECT" -f "$DIR/etc/compose.yaml" down --timeout 30
  exit 0
fi

docker info >/dev/null 2>&1 || { echo "local: no Docker engine answers; start Docker first" >&2; exit 1; }
build_args=()
[ -n "${NODE_IMAGE:-}" ] && build_args+=(--build-arg "NODE_IMAGE=$NODE_IMAGE")
docker build "${build_args[@]}" --build-arg BUILD_LABEL=local -t athens-sync-server:local -f server/Dockerfile .
image=$(docker image inspect --format '{{.Id}}' athens-sync-server:local)
caddy_args=()
[ -n "${CADDY_IMAGE:-}" ] && caddy_args+=(--caddy-image "$CADDY_IMAGE")
eval "$(npx --no-install tsx scripts/local-stack.ts --dir "$DIR" --image "$image" --https-port "${HTTPS_PORT:-8443}" --http-port "${HTTP_PORT:-8080}" "${caddy_args[@]}")"
"${compose[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" up -d --remove-orphans

echo "local: waiting for the server to be ready through Caddy"
for _ in $(seq 1 60); do
  if [ -s "$CA_CERT" ] && curl -fsS --cacert "$CA_CERT" "https://localhost:${HTTPS_PORT:-8443}/readyz" >/dev/null 2>&1; then
    echo
    echo "  url:    $SYNC_URL"
    echo "  token:  $SYNC_TOKEN"
    echo "  CA:     $CA_CERT  (trust it in your client, e.g. NODE_EXTRA_CA_CERTS)"
    echo "  stop:   npm run local -- down"
    exit 0
  fi
  sleep 1
done
echo "local: not ready after 60s; logs:" >&2
"${compose[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" logs --tail 50 >&2
exit 1
