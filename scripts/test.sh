#!/usr/bin/env bash
# Runs every test of libgda on a fresh Debian 12 machine: installs what the
# build and the tests' real peers need, configures, builds and runs
# `meson test`. Usage: scripts/test.sh [extra meson test args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh

build=${GDA_BUILD_DIR:-build}
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build"
fi
ninja -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
