#!/usr/bin/env bash
# Benchmark of gda-httpd with wrk on loopback: 64 connections for a bounded
# time, first unique requests (authentication, validation, a new idempotency
# record in the default SQLite store, the enrichment handler, the cached
# result written), then retried requests (one requestId: replays from the
# store). Prints requests/s and latency percentiles per scenario; fails when
# any response was not 2xx or a socket error occurred.
#   bench_httpd.sh GDA_HTTPD [SECONDS]   (GDA_BENCH_CONNECTIONS overrides 64)
set -euo pipefail
httpd=$(realpath "${1:?usage: bench_httpd.sh path/to/gda-httpd [seconds]}")
secs=${2:-5}
conns=${GDA_BENCH_CONNECTIONS:-64}
here=$(cd "$(dirname "$0")" && pwd)
command -v wrk >/dev/null || { echo "bench_httpd: wrk is not installed (apt-get install wrk, or scripts/install-deps.sh)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/gda-bench-httpd.XXXXXX")
pid=""
cleanup() {
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

token=$(head -c 32 /dev/urandom | base64 -w0)
printf 'bench:%s\n' "$token" > "$work/keys"
(cd "$work" && GDA_AUTH=token GDA_SECRETS_FILE="$work/keys" GDA_LOG_LEVEL=error \
   exec "$httpd" --listen 127.0.0.1:0 --port-file "$work/port" --max-connections 256 \
   >"$work/server.log" 2>&1) &
pid=$!
for _ in $(seq 1 200); do
  [ -s "$work/port" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
  sleep 0.05
done
url="http://127.0.0.1:$(cat "$work/port")/genesys/dataaction"
threads=$(nproc); [ "$threads" -gt 8 ] && threads=8; [ "$threads" -lt 2 ] && threads=2
run=$$-$(date +%s)
status=0
for mode in unique retry; do
  out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 10s -s "$here/bench_httpd.lua" "$url" \
          -- "$token" "$mode" "$run")
  line=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
  printf 'gda-httpd %-6s c=%d %ss: %s\n' "$mode" "$conns" "$secs" "$line"
  case "$line" in
    *"non2xx=0 connect_err=0 read_err=0 write_err=0 timeouts=0") ;;
    *) echo "bench_httpd: $mode run had errors" >&2; status=1 ;;
  esac
done
exit $status
