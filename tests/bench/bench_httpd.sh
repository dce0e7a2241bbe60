#!/usr/bin/env bash
# Benchmark of gda-httpd with wrk on loopback: for each number of concurrent
# clients (connections) in turn, first unique requests for a bounded time
# (authentication, validation, a new idempotency record in the default
# SQLite store, the enrichment handler, the cached result written), then
# retried requests (one requestId: replays from the store). Prints
# requests/s and latency percentiles per scenario; fails when any response
# was not 2xx or a socket error occurred.
#   bench_httpd.sh GDA_HTTPD [SECONDS] [CONNECTION COUNTS]
# CONNECTION COUNTS is a space-separated list (default "64"); the variable
# GDA_BENCH_CONNECTIONS overrides it.
set -euo pipefail
httpd=$(realpath "${1:?usage: bench_httpd.sh path/to/gda-httpd [seconds] [connection counts]}")
secs=${2:-5}
conn_list=${GDA_BENCH_CONNECTIONS:-${3:-64}}
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
max_threads=$(nproc); [ "$max_threads" -gt 8 ] && max_threads=8; [ "$max_threads" -lt 2 ] && max_threads=2
status=0
for conns in $conn_list; do
  # wrk needs at least one connection per thread.
  threads=$max_threads; [ "$threads" -gt "$conns" ] && threads=$conns
  # A fresh run id per count: "unique" requests never replay an earlier run's.
  run=$$-$(date +%s)-c$conns
  for mode in unique retry; do
    out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --timeout 10s -s "$here/bench_httpd.lua" "$url" \
            -- "$token" "$mode" "$run")
    line=$(grep '^RESULT ' <<<"$out" | sed 's/^RESULT //')
    printf 'gda-httpd %-6s c=%d %ss: %s\n' "$mode" "$conns" "$secs" "$line"
    case "$line" in
      *"non2xx=0 connect_err=0 read_err=0 write_err=0 timeouts=0") ;;
      *) echo "bench_httpd: $mode run with $conns connections had errors" >&2; status=1 ;;
    esac
  done
done
exit $status
