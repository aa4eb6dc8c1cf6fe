#!/usr/bin/env bash
# The VM suite's apt cache: Debian's apt-cacher-ng in the foreground, on this host's
# loopback only, with its own state under <dir> (kept between runs, so a warm cache
# serves a second run without Debian's mirrors). The guest reaches it over qemu's
# guestfwd; the image build (guest-image.sh) fetches through it too, which warms it.
# test/vm/services.ts runs it, and stops and starts it to make "the apt cache down".
#   apt-cache.sh <port> <dir>
set -euo pipefail
PORT=${1:?usage: apt-cache.sh <port> <dir>}
DIR=${2:?usage: apt-cache.sh <port> <dir>}
# apt-cacher-ng cannot bind ports above 32767 ("Error resolving address for binding").
if [ "$PORT" -gt 32767 ]; then echo "apt-cache: port $PORT: apt-cacher-ng only binds ports up to 32767" >&2; exit 2; fi
mkdir -p "$DIR"/{cache,log,run,conf}
# Its own config, without the package's remaps: those send /debian to ftp.debian.org,
# which a confined CI machine may not reach; the guest's URLs name deb.debian.org and
# security.debian.org, fetched as named.
printf 'SupportDir: /usr/lib/apt-cacher-ng\nExThreshold: 4\n' >"$DIR/conf/acng.conf"
exec apt-cacher-ng -c "$DIR/conf" ForeGround=1 "Port=$PORT" BindAddress=127.0.0.1 \
  "CacheDir=$DIR/cache" "LogDir=$DIR/log" "SocketPath=$DIR/run/socket" "PidFile=$DIR/run/pid"
