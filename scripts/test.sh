#!/usr/bin/env bash
# Runs every test of libgda on a fresh Debian 12 machine: installs what the
# build and the tests' real peers need, configures, builds and runs
# `meson test`. Usage: scripts/test.sh [extra meson test args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh

# dynalite: the DynamoDB-compatible server the DynamoDB store tests run
# against (in-memory or LevelDB via prebuilt binaries shipped in the npm
# packages; nothing else is downloaded). Without Node.js the tests fail and
# say what to install.
dynalite_version=4.0.0
if ! grep -qs "\"version\": \"$dynalite_version\"" .deps/dynalite/node_modules/dynalite/package.json; then
  if command -v npm >/dev/null; then
    npm install --prefix .deps/dynalite --no-audit --no-fund "dynalite@$dynalite_version"
  else
    echo "test.sh: npm not found; the DynamoDB tests need Node.js >= 20 and npm" >&2
  fi
fi

build=${GDA_BUILD_DIR:-build}
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build"
fi
ninja -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
