#!/usr/bin/env bash
# `gda dynamodb create-table` against a real dynalite on a free loopback port:
# creates, keeps an existing table, and fails clearly on usage errors and an
# unreachable endpoint. Fails (never skips) without Node.js or dynalite.
# Usage: test_cli_dynamodb.sh /path/to/gda
set -uo pipefail

gda=${1:?usage: test_cli_dynamodb.sh /path/to/gda}
dynalite=${GDA_DYNALITE:?GDA_DYNALITE is not set: run through meson test}
hint="install it with scripts/test.sh, or: npm install --prefix .deps/dynalite dynalite@4.0.0 (Node.js >= 20)"
command -v node >/dev/null || { echo "FAIL: Node.js not found; $hint" >&2; echo "0 passed, 1 failed"; exit 1; }
[ -r "$dynalite" ] || { echo "FAIL: dynalite not installed ($dynalite); $hint" >&2; echo "0 passed, 1 failed"; exit 1; }

export AWS_ACCESS_KEY_ID=AKIDGDACLITEST000001 AWS_SECRET_ACCESS_KEY=cliTestSecret/NotReal AWS_REGION=us-east-1
unset AWS_SESSION_TOKEN GDA_DYNAMODB_ENDPOINT
port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
node "$dynalite" --host 127.0.0.1 --port "$port" --createTableMs 0 >/dev/null &
pid=$!
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.05
done

passed=0 failed=0
check() { # check DESCRIPTION WANT_RC PATTERN -- command...
  local what=$1 want=$2 pattern=$3
  shift 4
  "$@" >"$work/out" 2>&1
  local rc=$?
  if [ "$rc" = "$want" ] && grep -q -- "$pattern" "$work/out"; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $what: exit $rc (want $want), output: $(head -c 400 "$work/out")" >&2
  fi
}

endpoint="http://127.0.0.1:$port"
check "creates the table" 0 "created table cli_table" -- "$gda" dynamodb create-table --table cli_table --endpoint "$endpoint"
check "reports TTL support" 0 "TTL not enabled" -- "$gda" dynamodb create-table --table cli_table2 --endpoint "$endpoint"
check "keeps an existing table" 0 "kept existing table cli_table" -- "$gda" dynamodb create-table --table cli_table --endpoint "$endpoint"
GDA_DYNAMODB_ENDPOINT=$endpoint check "endpoint from the environment" 0 "created table env_table" -- "$gda" dynamodb create-table --table env_table
check "needs --table" 2 "--table is required" -- "$gda" dynamodb create-table --endpoint "$endpoint"
check "rejects a bad table name" 2 "table name" -- "$gda" dynamodb create-table --table 'x!' --endpoint "$endpoint"
check "unknown action" 2 "unknown action" -- "$gda" dynamodb drop-table
check "no region" 2 "AWS_REGION" -- env -u AWS_REGION -u AWS_DEFAULT_REGION "$gda" dynamodb create-table --table t_r --endpoint "$endpoint"
check "unreachable endpoint" 2 "unavailable\|deadline" -- "$gda" dynamodb create-table --table t_u --endpoint "http://127.0.0.1:1" --timeout 2
check "help" 0 "create-table" -- "$gda" dynamodb --help

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
