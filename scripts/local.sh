#!/usr/bin/env bash
# The newcomer's local-stack command: installs what is missing (scripts/setup.sh local),
# then `npm run local` on the project's Node. Arguments go to `npm run local`
# (`--offline`, `down`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "$(basename "$0"): needs root (apt-get, Docker, loop devices); re-running with sudo"; exec sudo --preserve-env=PATH,NODE_EXTRA_CA_CERTS bash "$0" "$@"; fi
bash scripts/setup.sh local
. scripts/use-node.sh
exec npm run --silent local -- "$@"
