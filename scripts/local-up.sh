#!/usr/bin/env bash
# `npm run local`: the whole stack on this machine's Docker engine: the server image,
# and the same compose file and Caddyfile the VMs run, with Caddy's local CA.
#   npm run local                build, start, print the URL, token and the demo's URL
#   npm run local -- --offline   never contact a registry: base images from Debian packages
#   npm run local -- down        stop it (data stays in .local-stack/volume)
# Base images: NODE_IMAGE and CADDY_IMAGE when set; else the official ones (pulled once);
# when they cannot be pulled (air-gapped, no Docker Hub), built from Debian packages by
# images/base-images.sh. Scripts/local.sh installs what this needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${LOCAL_STACK_DIR:-.local-stack}
PROJECT=${LOCAL_STACK_PROJECT:-athens-sync-local}
HTTP_PORT=${HTTP_PORT:-8080}
HTTPS_PORT=${HTTPS_PORT:-8443}
say() { echo "local: $*"; }
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi

offline=0
for a in "$@"; do
  case "$a" in
    down)
      "${compose[@]}" -p "$PROJECT" -f "$DIR/etc/compose.yaml" down --timeout 30
      exit 0 ;;
    --offline) offline=1 ;;
    *) echo "usage: npm run local [-- --offline | down]" >&2; exit 2 ;;
  esac
done

docker info >/dev/null 2>&1 || {
  say "no Docker engine answers. scripts/local.sh installs and starts one on Debian or Ubuntu;" >&2
  say "elsewhere, install Docker (https://docs.docker.com/engine/install/) and start it." >&2
  exit 1
}

# The official images the deploy uses by default (components/config.ts).
eval "$(npx --no-install tsx scripts/local-stack.ts --defaults)"
if [ -z "${NODE_IMAGE:-}" ] || [ -z "${CADDY_IMAGE:-}" ]; then
  node_image=$DEFAULT_NODE_IMAGE caddy_image=$DEFAULT_CADDY_IMAGE
  if [ "$offline" = 1 ]; then
    say "--offline: building the base images from Debian packages (images/base-images.sh)"
    node_image="" caddy_image=""
  else
    for ref in "$node_image" "$caddy_image"; do
      docker image inspect "$ref" >/dev/null 2>&1 && continue
      say "pulling $ref"
      if ! err=$(timeout 120 docker pull -q "$ref" 2>&1 >/dev/null); then
        say "cannot pull $ref (${err##*: }); building the base images from Debian packages instead (images/base-images.sh; --offline skips the pull)"
        node_image="" caddy_image=""
        break
      fi
    done
  fi
  if [ -z "$node_image" ]; then
    eval "$(bash images/base-images.sh)"
    node_image=$NODE_IMAGE caddy_image=$CADDY_IMAGE
  fi
  NODE_IMAGE=${NODE_IMAGE:-$node_image} CADDY_IMAGE=${CADDY_IMAGE:-$caddy_image}
fi
say "base images: $NODE_IMAGE, $CADDY_IMAGE"

bash scripts/docker-build.sh -q --build-arg "NODE_IMAGE=$NODE_IMAGE" --build-arg BUILD_LABEL=local \
  -t athens-sync-server:local -f server/Dockerfile . >/dev/null
image=$(docker image inspect --format '{{.Id}}' athens-sync-server:local)
say "server image athens-sync-server:local ($(( $(docker image inspect --format '{{.Size}}' "$image") / 1000000 )) MB)"
eval "$(npx --no-install tsx scripts/local-stack.ts --dir "$DIR" --image "$image" --https-port "$HTTPS_PORT" --http-port "$HTTP_PORT" --caddy-image "$CADDY_IMAGE")"
"${compose[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" up -d --remove-orphans

say "waiting for the server to be ready through Caddy"
# /healthz, not /readyz: Caddy forwards only the public paths (components/spec.ts
# PUBLIC_PATHS), and routes nothing until its own check of /readyz passes.
for _ in $(seq 1 60); do
  if [ -s "$CA_CERT" ] && curl -fsS --cacert "$CA_CERT" "https://localhost:$HTTPS_PORT/healthz" >/dev/null 2>&1; then
    echo
    echo "  url:    $SYNC_URL"
    echo "  token:  $SYNC_TOKEN"
    echo "  CA:     $CA_CERT  (trust it in your client, e.g. NODE_EXTRA_CA_CERTS)"
    echo "  demo:   $DEMO_URL"
    echo "          (the demo outliner; the browser warns about Caddy's local CA until you trust it)"
    echo "  stop:   npm run local -- down"
    exit 0
  fi
  sleep 1
done
say "not ready after 60s; logs:" >&2
"${compose[@]}" -p "$PROJECT" -f "$COMPOSE_FILE" logs --tail 50 >&2
exit 1
