#!/usr/bin/env bash
# Builds the base images the e2e suite needs without any registry pull:
#   athens-sync-e2e/debian:bookworm  debootstrap --variant=minbase, docker import
#   athens-sync-e2e/node             that + this machine's node binary, npm and headers
#   athens-sync-e2e/caddy            that + Debian's caddy package, laid out like caddy:2
# Each is kept between runs (rebuilt only when missing) and the rootfs tarball is cached.
set -euo pipefail

CACHE=${E2E_CACHE:-/var/cache/athens-sync-e2e}
DEBIAN_IMAGE=athens-sync-e2e/debian:bookworm
mkdir -p "$CACHE"
# This machine may reach the npm registry through a TLS proxy with its own CA: the
# image trusts what this machine trusts (NODE_EXTRA_CA_CERTS), for npm ci in builds.
CA_BUNDLE=${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}
# Tags carry a hash of this script and the CA bundle, so a changed recipe never reuses a stale image.
recipe=$(cat "$0" "$CA_BUNDLE" 2>/dev/null | sha256sum | cut -c1-12)
NODE_IMAGE=athens-sync-e2e/node:$(node --version)-$recipe
CADDY_IMAGE=athens-sync-e2e/caddy:bookworm-$recipe

have() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have "$DEBIAN_IMAGE"; then
  if [ ! -s "$CACHE/bookworm-minbase.tar" ]; then
    echo "base-images: debootstrap --variant=minbase bookworm"
    rm -rf "$CACHE/rootfs"
    debootstrap --variant=minbase bookworm "$CACHE/rootfs" http://deb.debian.org/debian >"$CACHE/debootstrap.log" 2>&1 \
      || { tail -n 30 "$CACHE/debootstrap.log" >&2; exit 1; }
    tar -C "$CACHE/rootfs" -cf "$CACHE/bookworm-minbase.tar.tmp" . && mv "$CACHE/bookworm-minbase.tar.tmp" "$CACHE/bookworm-minbase.tar"
    rm -rf "$CACHE/rootfs"
  fi
  docker import "$CACHE/bookworm-minbase.tar" "$DEBIAN_IMAGE" >/dev/null
fi

if ! have "$NODE_IMAGE"; then
  echo "base-images: $NODE_IMAGE from $(command -v node)"
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp "$(readlink -f "$(command -v node)")" "$ctx/node"
  npm_root=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  cp -a "$npm_root" "$ctx/npm"
  cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node" "$ctx/include-node"
  if [ -s "$CA_BUNDLE" ]; then cp "$CA_BUNDLE" "$ctx/ca.crt"; else : >"$ctx/ca.crt"; fi
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $DEBIAN_IMAGE
COPY node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY include-node /usr/local/include/node
COPY ca.crt /usr/local/share/athens-sync-e2e-ca.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
# No internet for node-gyp's header download: build native addons against these headers.
ENV npm_config_nodedir=/usr/local NODE_EXTRA_CA_CERTS=/usr/local/share/athens-sync-e2e-ca.crt
CMD ["node"]
DOCKERFILE
  docker build -q -t "$NODE_IMAGE" "$ctx" >/dev/null
fi

if ! have "$CADDY_IMAGE"; then
  echo "base-images: $CADDY_IMAGE from Debian's caddy package"
  docker build -q -t "$CADDY_IMAGE" - >/dev/null <<DOCKERFILE
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
