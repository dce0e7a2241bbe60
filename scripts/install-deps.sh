#!/usr/bin/env bash
# Installs the Debian 12 packages libgda needs to build and test. Idempotent:
# packages already present are skipped, so repeated runs cost one dpkg query.
set -euo pipefail

packages=(
  build-essential meson ninja-build pkg-config
  libjansson-dev libsodium-dev libssl-dev libcurl4-openssl-dev libsqlite3-dev
  libmicrohttpd-dev libcmocka-dev
  curl sqlite3 zip unzip
  wrk openssl
  doxygen
  clang libclang-rt-14-dev
  valgrind
)

# Node.js and npm run the tests' JavaScript peers (dynalite, the example
# validators). Machines of this project's kind ship Node 20; elsewhere fall
# back to Debian's packages.
command -v node >/dev/null && command -v npm >/dev/null || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
