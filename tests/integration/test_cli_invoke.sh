#!/usr/bin/env bash
# gda invoke end to end. A URL target: gda-httpd-test with hmac (signed
# request 200, the replay byte for byte with the handler run once, wrong key
# and wrong signed path 401 without a retry). Retries: a server that answers
# 503/reset/slow on purpose (every attempt carries the same bytes), a closed
# port (retries + 1 attempts, exit 1), no retry on 4xx. A local bootstrap
# under the built-in Runtime API: 200 then the replay, every scheme, 401,
# 5xx retried, timeouts, init errors with exit 1.
# Usage: test_cli_invoke.sh GDA GDA_HTTPD_TEST CLI_FLAKY_SERVER BOOTSTRAP_TEST
set -uo pipefail

gda=${1:?usage: test_cli_invoke.sh GDA GDA_HTTPD_TEST CLI_FLAKY_SERVER BOOTSTRAP_TEST}
httpd=${2:?} flaky=${3:?} bootstrap=${4:?}
for p in "$gda" "$httpd" "$flaky" "$bootstrap"; do
    [ -x "$p" ] || { echo "not executable: $p" >&2; exit 1; }
done
. "$(dirname "$0")/cli_lib.sh"
unset GDA_DIRECT_TRUSTED GDA_STORE GDA_AUTH GDA_SECRETS GDA_SECRETS_FILE GDA_ROUTE

ring=$("$gda" keygen --id k1)
other=$("$gda" keygen --id k1)
body=$work/body.json
printf '{"interactionId":"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70","requestId":"r-1","callerId":"+15551234567"}' >"$body"
mkbody() { # mkbody FILE REQUEST_ID EXTRA_FIELDS
    printf '{"interactionId":"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70","requestId":"%s"%s}' "$2" "$3" >"$1"
}

# wait_port FILE: the port a server wrote, once it did
wait_port() {
    for _ in $(seq 1 500); do
        [ -s "$1" ] && { cat "$1"; return 0; }
        sleep 0.02
    done
    return 1
}

# attempts: how many attempt lines the last command printed
attempts() { grep -c '^attempt [0-9]*: ' "$work/out"; }

# body_of N: the response body printed after attempt N
body_of() { awk -v n="$1" '/^attempt [0-9]+: /{k++; next} k==n' "$work/out"; }

# ledger_count FILE ID: how often the handler ran for ID
ledger_count() { grep -cx -- "$2" "$1" 2>/dev/null || true; }

# --- URL target: gda-httpd-test with hmac ------------------------------------
ledger=$work/httpd.ledger
GDA_AUTH=hmac GDA_SECRETS="$ring" GDA_STORE=memory GDA_TEST_LEDGER="$ledger" GDA_LOG_LEVEL=warn \
    "$httpd" --listen 127.0.0.1:0 --port-file "$work/httpd.port" >"$work/httpd.log" 2>&1 &
httpd_pid=$!
cleanups+=("kill $httpd_pid 2>/dev/null; wait $httpd_pid 2>/dev/null")
port=$(wait_port "$work/httpd.port") || { fail "gda-httpd-test did not start: $(cat "$work/httpd.log")"; finish; exit; }
url=http://127.0.0.1:$port/genesys/dataaction

expect 0 "url: signed request" -- "$gda" invoke --scheme hmac --keys "$ring" --body-file "$body" "$url"
[ "$(attempts)" = 1 ] || fail "url: one attempt, got $(attempts)"
expect_out "attempt 1: 200 " "url: status line"
expect_out '"status":"completed"' "url: the handler's answer"
first=$(body_of 1)
expect 0 "url: the same request again" -- "$gda" invoke --scheme hmac --keys "$ring" --body-file "$body" "$url"
[ "$(body_of 1)" = "$first" ] || fail "url: the replay differs: $(body_of 1) vs $first"
[ "$(ledger_count "$ledger" r-1)" = 1 ] || fail "url: the handler ran $(ledger_count "$ledger" r-1) times for r-1, want 1"
expect 1 "url: wrong key" -- "$gda" invoke --scheme hmac --keys "$other" --body-file "$body" "$url"
expect_out "attempt 1: 401 " "url: wrong key is 401"
[ "$(attempts)" = 1 ] || fail "url: a 401 was retried ($(attempts) attempts)"
expect 1 "url: signature for another path" -- "$gda" invoke --scheme hmac --keys "$ring" --path /genesys/other \
    --body-file "$body" "$url"
expect_out "attempt 1: 401 " "url: the signed path is bound"
mkbody "$work/q.json" r-q ''
expect 0 "url: a query is signed with the path" -- "$gda" invoke --scheme hmac --keys "$ring" \
    --body-file "$work/q.json" "$url?tenant=acme%20corp"
expect 0 "url: body on stdin" -- sh -c '"$0" invoke --scheme hmac --keys "$1" "$2" <"$3"' "$gda" "$ring" "$url" "$body"

# --- retries: the same bytes every time -----------------------------------------
# flaky NAME OUTCOMES: start the server; its port in $fport, its dumps in $work/NAME
flaky() {
    mkdir -p "$work/$1"
    "$flaky" "$work/$1.port" "$work/$1" "$2" 2>"$work/$1.log" &
    local pid=$!
    cleanups+=("kill $pid 2>/dev/null; wait $pid 2>/dev/null")
    fport=$(wait_port "$work/$1.port") || fail "flaky server $1 did not start"
}
# same_requests DIR N: DIR holds exactly N requests, all identical
same_requests() {
    checks=$((checks + 1))
    local n
    n=$(find "$1" -name 'req.*' | wc -l)
    [ "$n" = "$2" ] || { fail "$1: $n requests, want $2"; return; }
    for k in $(seq 2 "$2"); do
        cmp -s "$1/req.1" "$1/req.$k" || fail "$1: request $k differs from request 1: $(diff "$1/req.1" "$1/req.$k")"
    done
}

for scheme in token hmac-sha256 jwt basic; do
    flaky "f503-$scheme" 503,503,200
    expect 0 "retry ($scheme): 503, 503, then 200" -- "$gda" invoke --scheme "$scheme" --keys "$ring" \
        --retry-delay-ms 10 -H 'X-Extra: one' --body-file "$body" "http://127.0.0.1:$fport/genesys/dataaction"
    [ "$(attempts)" = 3 ] || fail "retry ($scheme): $(attempts) attempts, want 3"
    expect_out "attempt 3: 200 " "retry ($scheme): the third attempt"
    same_requests "$work/f503-$scheme" 3
    grep -qx 'X-Extra: one' "$work/f503-$scheme/req.1" || fail "retry ($scheme): -H header not sent"
    grep -qF "$(cat "$body")" "$work/f503-$scheme/req.3" || fail "retry ($scheme): the body is not what was sent"
done
"$gda" sign --scheme token --keys "$ring" --body-file "$body" | while IFS= read -r line; do
    grep -qxF -- "$line" "$work/f503-token/req.1" || fail "retry: signed header '$line' not as gda sign prints it"
done

flaky always503 503
expect 1 "retry: 503 every time" -- "$gda" invoke --scheme token --keys "$ring" --retries 1 --retry-delay-ms 10 \
    --body-file "$body" "http://127.0.0.1:$fport/"
[ "$(attempts)" = 2 ] || fail "retry: --retries 1 made $(attempts) attempts"
same_requests "$work/always503" 2

flaky bad400 400
expect 1 "retry: no retry on 4xx" -- "$gda" invoke --scheme token --keys "$ring" --retry-delay-ms 10 \
    --body-file "$body" "http://127.0.0.1:$fport/"
[ "$(attempts)" = 1 ] || fail "retry: a 400 was retried ($(attempts) attempts)"
same_requests "$work/bad400" 1

flaky reset reset,200
expect 0 "retry: a reset connection" -- "$gda" invoke --scheme token --keys "$ring" --retry-delay-ms 10 \
    --body-file "$body" "http://127.0.0.1:$fport/"
expect_out "attempt 1: error " "retry: the reset is an error line"
expect_out "attempt 2: 200 " "retry: then 200"
same_requests "$work/reset" 2

flaky slow sleep2500
expect 1 "retry: timeouts" -- "$gda" invoke --scheme token --keys "$ring" --timeout 1 --retries 1 \
    --retry-delay-ms 10 --body-file "$body" "http://127.0.0.1:$fport/"
[ "$(grep -c '^attempt [12]: error .*Timeout\|^attempt [12]: error .*timed out' "$work/out")" = 2 ] ||
    fail "retry: two timed-out attempts expected: $(cat "$work/out")"
same_requests "$work/slow" 2

# a closed port: the server's, after it stopped
flaky closed 200
kill "$!" && wait "$!" 2>/dev/null
expect 1 "retry: connection refused" -- "$gda" invoke --scheme token --keys "$ring" --retries 2 \
    --retry-delay-ms 10 --body-file "$body" "http://127.0.0.1:$fport/"
[ "$(grep -c '^attempt [0-9]*: error ' "$work/out")" = 3 ] || fail "refused: 3 error attempts expected: $(cat "$work/out")"

# --- local bootstrap under the built-in Runtime API ------------------------------
lledger=$work/lambda.ledger
local_env=(env GDA_STORE=memory GDA_SECRETS="$ring" GDA_TEST_LEDGER="$lledger")
for scheme in token hmac jwt basic; do
    mkbody "$work/l-$scheme.json" "l-$scheme" ''
    expect 0 "local ($scheme): 200, then the replay" -- "${local_env[@]}" GDA_AUTH="$scheme" \
        "$gda" invoke --scheme "$scheme" --keys "$ring" --repeat 2 --body-file "$work/l-$scheme.json" "$bootstrap"
    [ "$(attempts)" = 2 ] || fail "local ($scheme): $(attempts) attempts, want 2"
    expect_out "attempt 2: 200 " "local ($scheme): the replay is 200"
    [ "$(body_of 1)" = "$(body_of 2)" ] || fail "local ($scheme): the replay differs"
    [ "$(ledger_count "$lledger" "l-$scheme")" = 1 ] || fail "local ($scheme): the handler ran $(ledger_count "$lledger" "l-$scheme") times"
    expect_err '"runtime started' "local ($scheme): the bootstrap's logs reach stderr"
done
expect 1 "local: wrong key" -- "${local_env[@]}" "$gda" invoke --scheme token --keys "$other" --body-file "$body" "$bootstrap"
expect_out "attempt 1: 401 " "local: wrong key is 401"
[ "$(attempts)" = 1 ] || fail "local: a 401 was retried"
mkbody "$work/fail.json" l-fail ',"testMode":"fail"'
expect 1 "local: 503 retried" -- "${local_env[@]}" "$gda" invoke --scheme token --keys "$ring" --retries 2 \
    --retry-delay-ms 10 --body-file "$work/fail.json" "$bootstrap"
[ "$(grep -c '^attempt [0-9]*: 503 ' "$work/out")" = 3 ] || fail "local: three 503 attempts expected: $(cat "$work/out")"
[ "$(ledger_count "$lledger" l-fail)" = 3 ] || fail "local: each retry of a released lease runs the handler"
mkbody "$work/trace.json" l-trace ',"testMode":"trace"'
expect 0 "local: what the runtime passes in" -- "${local_env[@]}" "$gda" invoke --scheme token --keys "$ring" \
    --timeout 7 --body-file "$work/trace.json" "$bootstrap"
grep -Eq '"awsRequestId":"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"' "$work/out" ||
    fail "local: no request id in $(cat "$work/out")"
grep -q '"traceEnv":"Root=1-' "$work/out" || fail "local: no trace id"
rem=$(grep -o '"remainingMs":[0-9]*' "$work/out" | cut -d: -f2)
[ -n "$rem" ] && [ "$rem" -gt 5000 ] && [ "$rem" -le 7000 ] || fail "local: remaining time $rem ms for --timeout 7"
mkbody "$work/slow.json" l-slow ',"testMode":"slow","testSleepMs":3000'
expect 1 "local: no response within --timeout" -- "${local_env[@]}" "$gda" invoke --scheme token --keys "$ring" \
    --timeout 1 --retries 1 --retry-delay-ms 10 --body-file "$work/slow.json" "$bootstrap"
[ "$(grep -c '^attempt [12]: error no response within 1 s' "$work/out")" = 2 ] || fail "local: two timeouts expected: $(cat "$work/out")"
# Ctrl-C during a local run: gda stops waiting, stops the bootstrap, exits 1.
mkbody "$work/int.json" l-int ',"testMode":"slow","testSleepMs":20000'
# The bootstrap inherits a mark unique to this run, so the check below finds
# this run's bootstrap, not another test's running the same binary.
int_mark="GDA_TEST_INTERRUPT_MARK=$$-$RANDOM"
"${local_env[@]}" "$int_mark" "$gda" invoke --scheme token --keys "$ring" --timeout 30 \
    --body-file "$work/int.json" "$bootstrap" >"$work/out" 2>"$work/err" &
ipid=$!
sleep 1
kill -INT "$ipid"
for _ in $(seq 50); do kill -0 "$ipid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$ipid" 2>/dev/null; then
    fail "interrupt: gda invoke still running 5 s after SIGINT"
    kill -KILL "$ipid"
fi
wait "$ipid"; irc=$?
[ "$irc" = 1 ] || fail "interrupt: exit status $irc, want 1"
expect_out "attempt 1: error interrupted" "interrupt: the attempt says so"
grep -lsxzF "$int_mark" /proc/[0-9]*/environ >/dev/null &&
    fail "interrupt: the bootstrap was left running"
mkbody "$work/crash.json" l-crash ',"testMode":"crash"'
expect 1 "local: a crash is a 502 and retried" -- "${local_env[@]}" "$gda" invoke --scheme token --keys "$ring" \
    --retries 1 --retry-delay-ms 10 --body-file "$work/crash.json" "$bootstrap"
[ "$(grep -c '^attempt [12]: 502 ' "$work/out")" = 2 ] || fail "local: two 502s expected: $(cat "$work/out")"
expect 1 "local: init error (GDA_STORE unset)" -- env GDA_SECRETS="$ring" "$gda" invoke --scheme token \
    --keys "$ring" --body-file "$body" "$bootstrap"
expect_out "attempt 1: init error " "local: init error line"
expect_out "GDA_STORE" "local: the init error names the setting"
[ "$(attempts)" = 1 ] || fail "local: an init error was retried"

finish
