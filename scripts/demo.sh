#!/usr/bin/env bash
# The README's "run it" command. On a fresh Debian 12 machine: installs what
# the build needs, builds (in build/, shared with scripts/test.sh), makes a
# demo secret, starts gda-httpd with the enrichment example handler and the
# embedded SQLite idempotency store in a temporary directory, then sends
#   1. a signed Data Action request (token header, as Genesys sends it),
#   2. the same request again (idempotent replay: the same bytes back),
#   3. a request signed with the wrong secret (401),
#   4. an oversized request (413, refused before the body is read),
# prints every response and the server's log lines, and keeps serving until
# Ctrl-C.
#
#   scripts/demo.sh          run the samples, then keep serving
#   scripts/demo.sh --once   run the samples and exit: 0 only when every
#                            response was the expected one (for CI)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

once=false
case "${1:-}" in
  --once) once=true ;;
  "") ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/demo.sh [--once]" >&2; exit 2 ;;
esac

bash scripts/install-deps.sh

build=${GDA_BUILD_DIR:-build}
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" >/dev/null
else
  meson setup "$build" >/dev/null
fi
if ! out=$(ninja -C "$build" 2>&1); then
  echo "$out" >&2
  echo "demo: the build failed" >&2
  exit 1
fi
httpd="$build/shims/http/gda-httpd"
gda="$build/shims/cli/gda"
if [ ! -x "$httpd" ]; then
  echo "demo: $httpd was not built (is libmicrohttpd-dev installed?)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gda-demo.XXXXXX")
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

bold() { if [ -t 1 ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }

# A fresh secret for this run: one key ring entry "demo:BASE64". The BASE64
# part is what an admin pastes into the Genesys credential.
new_secret() {
  if [ -x "$gda" ]; then "$gda" keygen --id "$1"; else printf '%s:%s\n' "$1" "$(openssl rand -base64 32)"; fi
}
new_secret demo > "$work/keys"
new_secret intruder > "$work/wrong-keys"
chmod 600 "$work/keys" "$work/wrong-keys"

# The credential header for a body, as Genesys (or `gda sign`) sends it.
auth_header() { # keys-file body-file
  if [ -x "$gda" ]; then
    "$gda" sign --scheme token --keys-file "$1" --body-file "$2"
  else
    printf 'X-Genesys-Signature: %s\n' "$(cut -d: -f2- "$1")"
  fi
}

bold "== starting gda-httpd (enrichment handler, SQLite store in $work)"
# The SQLite store's payload hashes and caller digests are keyed: a fresh
# random key for this demo, in a file only we can read like the key ring (a
# real deployment keeps one, shared by every instance on the store; see
# GDA_HASH_KEY_FILE in docs/configuration.md).
(umask 077 && head -c 32 /dev/urandom | base64 > "$work/hash-key")
(cd "$work" && GDA_AUTH=token GDA_SECRETS_FILE="$work/keys" GDA_HASH_KEY_FILE="$work/hash-key" \
   exec "$root/$httpd" --listen 127.0.0.1:0 --port-file "$work/port" >"$work/server.log" 2>&1) &
server_pid=$!
for _ in $(seq 1 200); do
  [ -s "$work/port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; echo "demo: gda-httpd did not start" >&2; exit 1; }
  sleep 0.05
done
[ -s "$work/port" ] || { cat "$work/server.log" >&2; echo "demo: gda-httpd did not report its port" >&2; exit 1; }
port=$(cat "$work/port")
url="http://127.0.0.1:$port/genesys/dataaction"
echo "listening on $url"

request_id="demo-$(date +%s)-$RANDOM"
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
printf '{"interactionId":"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70","requestId":"%s","queueId":"8c2f1a4e-5b6d-4e7f-9a0b-1c2d3e4f5a6b","callerId":"+15551234567","timestamp":"%s"}' \
  "$request_id" "$now" > "$work/body.json"
# 300 KiB: over the default 256 KiB limit.
{ printf '{"interactionId":"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70","requestId":"%s-big","pad":"' "$request_id"
  head -c 307200 /dev/zero | tr '\0' 'x'
  printf '"}'; } > "$work/big.json"

failures=0
# send NAME KEYS BODY EXPECTED_STATUS: prints the request's outcome and keeps
# the body in $work/NAME.out.
send() {
  local name=$1 keys=$2 body=$3 want=$4 header code
  header=$(auth_header "$keys" "$body")
  code=$(curl -sS -o "$work/$name.out" -w '%{http_code}' -X POST "$url" \
           -H 'Content-Type: application/json' -H 'Expect: 100-continue' -H "$header" \
           --data-binary @"$body") || code="curl-error"
  printf '<- HTTP %s %s\n' "$code" "$(head -c 400 "$work/$name.out")"
  if [ "$code" != "$want" ]; then
    echo "   UNEXPECTED: wanted HTTP $want"
    failures=$((failures + 1))
  fi
}

echo
bold "== 1. signed Data Action request (token header, as Genesys sends it)"
echo "-> POST $url $(cat "$work/body.json")"
send first "$work/keys" "$work/body.json" 200

echo
bold "== 2. the same request again: Genesys retried (idempotent replay)"
send replay "$work/keys" "$work/body.json" 200
if cmp -s "$work/first.out" "$work/replay.out"; then
  echo "   same bytes as the first answer: the handler did not run again"
else
  echo "   UNEXPECTED: the replay differs from the first answer"
  failures=$((failures + 1))
fi

echo
bold "== 3. tampered: signed with a secret the endpoint does not know"
send tampered "$work/wrong-keys" "$work/body.json" 401

echo
bold "== 4. oversized: a 300 KiB body (limit 256 KiB)"
send oversized "$work/keys" "$work/big.json" 413

sleep 0.2
echo
bold "== server log (JSON lines; metrics lines are CloudWatch EMF)"
cat "$work/server.log"

if ! grep -q '"outcome":"replay"' "$work/server.log"; then
  echo "UNEXPECTED: the log shows no replay"
  failures=$((failures + 1))
fi

echo
if [ "$failures" -ne 0 ]; then
  bold "== demo FAILED: $failures unexpected result(s)"
  exit 1
fi
bold "== every response was as expected"

if $once; then
  kill -TERM "$server_pid"
  wait "$server_pid"
  server_pid=""
  exit 0
fi

echo
echo "still serving on $url (Ctrl-C stops it). Try:"
echo "  curl -s -X POST $url -H 'Content-Type: application/json' \\"
echo "       -H \"\$($gda sign --scheme token --keys-file $work/keys --body-file $work/body.json)\" \\"
echo "       --data-binary @$work/body.json"
echo
tail -n 0 -f "$work/server.log" --pid="$server_pid" &
tail_pid=$!
trap 'kill -TERM "$server_pid" 2>/dev/null || true' INT TERM
wait "$server_pid" || true
server_pid=""
wait "$tail_pid" 2>/dev/null || true
