#!/usr/bin/env bash
# `npm run test:e2e`: boots the VM's own stack (the rendered compose file and Caddyfile)
# on a real Docker engine and drives it over wss://. Needs root for dockerd.
# `scripts/setup.sh e2e` installs what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/use-node.sh
bash scripts/check-tools.sh e2e
bash scripts/docker-engine.sh
# Base images from Debian packages: the suite never depends on Docker Hub.
eval "$(bash images/base-images.sh)"
export E2E_NODE_IMAGE=$NODE_IMAGE E2E_CADDY_IMAGE=$CADDY_IMAGE
started=$(date +%s)
npx jest -c jest.e2e.config.js --runInBand --forceExit "$@"
echo "e2e: wall time $(( $(date +%s) - started ))s"
