#!/usr/bin/env bash
# `npm run test:e2e`: boots the VM's own stack (the rendered compose file and Caddyfile)
# on a real Docker engine and drives it over wss://. Needs root for dockerd.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/docker-engine.sh
eval "$(bash scripts/e2e/base-images.sh | grep -E '^(NODE|CADDY)_IMAGE=')"
export E2E_NODE_IMAGE=$NODE_IMAGE E2E_CADDY_IMAGE=$CADDY_IMAGE
command -v docker-compose >/dev/null || { echo "e2e: docker-compose is not installed (apt-get install -y docker-compose)" >&2; exit 1; }
started=$(date +%s)
npx jest -c jest.e2e.config.js --runInBand "$@"
echo "e2e: wall time $(( $(date +%s) - started ))s"
