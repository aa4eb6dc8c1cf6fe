#!/usr/bin/env bash
# `docker build` with BuildKit, on whichever Docker this machine has:
# - a CLI with the buildx plugin (Docker CE, Docker Desktop, Debian trixie's or Ubuntu's
#   docker-buildx): BuildKit through buildx.
# - Debian bookworm's docker.io (CLI 20.10): that CLI drives the engine's built-in BuildKit
#   with DOCKER_BUILDKIT=1 and needs no buildx. docker-buildx is not packaged for bookworm
#   (it first appears in trixie, 0.13.1; not in bookworm-backports either), and
#   docker-buildx-plugin comes only from download.docker.com.
# - a newer CLI without buildx ahead of Debian's on PATH (CLI 23+ refuses BuildKit without
#   buildx): Debian's own CLI, /usr/bin/docker, when it is 20.10.
# Anything else falls back to the legacy builder, after one line saying what to install.
set -euo pipefail
export DOCKER_BUILDKIT=1
if docker buildx version >/dev/null 2>&1; then
  exec docker build "$@"
fi
major() { "$1" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1; }
for cli in "$(command -v docker)" /usr/bin/docker; do
  if [ -x "$cli" ] && [ "$(major "$cli")" -lt 23 ] 2>/dev/null; then
    exec "$cli" build "$@"
  fi
done
echo "docker-build: no BuildKit here (install docker-buildx or docker-buildx-plugin); using the legacy builder" >&2
export DOCKER_BUILDKIT=0
exec docker build "$@"
