# Helpers the gda tool's tests share (sourced): a scratch directory $work,
# removed on exit, and checks that count failures instead of stopping.
work=$(mktemp -d)
cleanups=()
trap 'for c in "${cleanups[@]}"; do eval "$c"; done; rm -rf "$work"' EXIT

failures=0
checks=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# expect RC DESCRIPTION -- command...   (stdout/stderr kept in $work/out, $work/err)
expect() {
    local want=$1 what=$2
    shift 3
    checks=$((checks + 1))
    "$@" >"$work/out" 2>"$work/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        fail "$what: exit $got, want $want; stderr: $(head -c 300 "$work/err")"
    fi
}

# expect_err TEXT DESCRIPTION: the last command's stderr contains TEXT
expect_err() {
    checks=$((checks + 1))
    grep -qF -- "$1" "$work/err" || fail "$2: stderr lacks '$1': $(head -c 300 "$work/err")"
}

# expect_out TEXT DESCRIPTION: the last command's stdout contains TEXT
expect_out() {
    checks=$((checks + 1))
    grep -qF -- "$1" "$work/out" || fail "$2: stdout lacks '$1': $(head -c 300 "$work/out")"
}

# finish: the summary line, and the exit status of the test
finish() {
    echo "$checks checks, $failures failures"
    [ "$failures" = 0 ]
}
