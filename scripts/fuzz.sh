#!/usr/bin/env bash
# Builds libgda's libFuzzer targets (tests/fuzz/) with clang, ASan and UBSan
# into build-fuzz, and runs each target for a bounded time. The corpus keeps
# growing across runs in tests/fuzz/corpus-work/<target>/ (git-ignored);
# committed seeds (tests/fuzz/seeds/<target>/), tests/data/ and saved crash
# inputs (tests/data/fuzz-regressions/<target>/) are read as extra corpora.
# Exits non-zero if any target finds a crash, leak, sanitizer error or broken
# invariant; the input is saved under tests/fuzz/corpus-work/artifacts/.
#
# Environment:
#   FUZZ_SECONDS    seconds per target (default 30)
#   FUZZ_TARGETS    space-separated subset (default: every target built)
#   FUZZ_BUILD_DIR  build directory (default build-fuzz)
#   CC              compiler (default clang; must be clang)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=${FUZZ_SECONDS:-30}
build=${FUZZ_BUILD_DIR:-build-fuzz}
work=tests/fuzz/corpus-work
export CC=${CC:-clang}

if ! command -v "$CC" >/dev/null; then
  echo "fuzz.sh: $CC not found; install clang and libclang-rt-14-dev (scripts/install-deps.sh)" >&2
  exit 1
fi

if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  # -fsanitize=fuzzer-no-link instruments the library itself for coverage;
  # the targets add -fsanitize=fuzzer (tests/fuzz/meson.build).
  meson setup "$build" -Dfuzz=true -Dbuildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=all" >/dev/null
fi

built=$(ninja -C "$build" -t targets all | sed -n 's|^tests/fuzz/fuzz_\([a-z0-9_]*\): .*|\1|p' | sort -u)
targets=${FUZZ_TARGETS:-$built}
if [ -z "$targets" ]; then
  echo "fuzz.sh: no fuzz targets in $build (configured without -Dfuzz=true?)" >&2
  exit 1
fi
ninja -C "$build" $(for t in $targets; do echo "tests/fuzz/fuzz_$t"; done)

# Extra read-only corpora from the test data, by target.
data_corpora() {
  case "$1" in
    event|authorizer) echo tests/data/events ;;
  esac
  [ -d "tests/data/fuzz-regressions/$1" ] && echo "tests/data/fuzz-regressions/$1"
  return 0
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

mkdir -p "$work/artifacts"
failed=()
for t in $targets; do
  mkdir -p "$work/$t"
  corpora=("$work/$t")
  [ -d "tests/fuzz/seeds/$t" ] && corpora+=("tests/fuzz/seeds/$t")
  for d in $(data_corpora "$t"); do corpora+=("$d"); done
  echo "== fuzz_$t for ${seconds}s (corpus: ${corpora[*]})"
  log="$work/artifacts/fuzz_$t.log"
  if "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -dict=tests/fuzz/gda.dict -print_final_stats=1 \
       -artifact_prefix="$work/artifacts/$t-" "${corpora[@]}" >"$log" 2>&1; then
    grep -E '^stat::(number_of_executed_units|new_units_added)' "$log" | tr '\n' ' '
    echo "$(grep -oE 'cov: [0-9]+' "$log" | tail -1)"
  else
    echo "fuzz.sh: fuzz_$t FAILED; log $log; inputs:" >&2
    ls "$work/artifacts/$t-"* 2>/dev/null >&2 || true
    tail -60 "$log" >&2
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (add each input to tests/data/fuzz-regressions/<target>/)" >&2
  exit 1
fi
echo "fuzz.sh: all targets clean"
