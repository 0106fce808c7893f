#!/usr/bin/env bash
# Installs what Bindery needs on Debian 12, only what is missing.
# Used by `make run`, `make test` and CI alike.
#   scripts/install-deps.sh build    C toolchain libraries (default)
#   scripts/install-deps.sh test     + Node.js/npm, Chromium, PostgreSQL, wrk, bubblewrap
#   scripts/install-deps.sh fuzz     + clang (libFuzzer), for `make fuzz`
set -euo pipefail

what=${1:-build}

build_pkgs=(pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev
            libssl-dev libargon2-dev libcurl4-openssl-dev libqrencode-dev
            libexpat1-dev libinih-dev libcmocka-dev libseccomp-dev bubblewrap
            libarchive-dev)
test_pkgs=(chromium postgresql wrk curl ca-certificates)
# libFuzzer and the sanitizer runtimes are only a Recommends of clang.
fuzz_pkgs=(clang libclang-rt-14-dev)

missing=()
want=("${build_pkgs[@]}")
[ "$what" = test ] && want+=("${test_pkgs[@]}")
[ "$what" = fuzz ] && want+=("${fuzz_pkgs[@]}")
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js and npm: any working install will do (Debian's or another already present).
if [ "$what" = test ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
