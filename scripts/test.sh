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
    npm install --prefix .deps/dynalite --no-audit --no-fund "dynalite@$dynalite_version" ||
      echo "test.sh: installing dynalite failed; the DynamoDB tests will fail" >&2
  else
    echo "test.sh: npm not found; the DynamoDB tests need Node.js >= 20 and npm" >&2
  fi
fi

# The example validations (suite 'examples'): JSON Schema draft-04, Velocity,
# JSONPath, CloudFormation YAML and the CloudFormation resource specification,
# pinned in tests/examples/deps.mjs.
if command -v npm >/dev/null; then
  example_pkgs=$(node --input-type=module -e "import('$root/tests/examples/deps.mjs').then((m) =>
    console.log(Object.entries(m.PACKAGES).map(([n, v]) => n + '@' + v).join(' ')))")
  if [ "$(cat .deps/examples/installed 2>/dev/null)" != "$example_pkgs" ]; then
    # shellcheck disable=SC2086 # one word per package
    npm install --prefix .deps/examples --no-audit --no-fund $example_pkgs
    echo "$example_pkgs" > .deps/examples/installed
  fi
else
  echo "test.sh: npm not found; the example validations need Node.js >= 20 and npm" >&2
fi

# The HTTP(S)-only libcurl that function.zip carries (from Debian's source
# of the system's version; cached in .deps): 27 fewer libraries per cold start.
bash scripts/build-minimal-curl.sh

build=${GDA_BUILD_DIR:-build}
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build"
fi
ninja -C "$build"
# Suite 'valgrind' runs on its own after the sanitizer pass (below).
meson test -C "$build" --print-errorlogs --num-processes 2 --no-suite valgrind "$@"

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer;
# any report (leaks included) fails the test that produced it.
asan=${GDA_ASAN_BUILD_DIR:-build-asan}
if [ -f "$asan/build.ninja" ]; then
  meson setup --reconfigure "$asan" >/dev/null
else
  meson setup "$asan" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fno-sanitize-recover=all
fi
ninja -C "$asan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C "$asan" --print-errorlogs --num-processes 2 --timeout-multiplier 3 "$@"

# gda-httpd and the Lambda bootstrap under valgrind memcheck (suite
# 'valgrind', main build): the integration and bad-input tests again with
# the spawned program inside memcheck; any memory error or definite/indirect
# leak fails the test (tests/meson.build, tests/test_wrapper.h).
meson test -C "$build" --print-errorlogs --num-processes 2 --suite valgrind

# Every libFuzzer target for a bounded time (default here 20 s each).
FUZZ_SECONDS=${FUZZ_SECONDS:-20} bash scripts/fuzz.sh

# The README's run command, end to end against the main build: exits non-zero
# unless every sample response (200, replay, 401, 413) was the expected one.
GDA_BUILD_DIR="$build" bash scripts/demo.sh --once
