#!/usr/bin/env bash
# The newcomer's test command: installs what is missing (scripts/setup.sh tests), then runs
# every suite (`npm test`) on the project's Node. Extra arguments go to `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then echo "$(basename "$0"): needs root (apt-get, Docker, loop devices); re-running with sudo"; exec sudo --preserve-env=PATH,NODE_EXTRA_CA_CERTS bash "$0" "$@"; fi
bash scripts/setup.sh tests
. scripts/use-node.sh
exec npm test --silent -- "$@"
