#!/bin/sh
# gda-store-check as a backend's author runs it: the behaviour suite passes
# against the built-in schemes and the out-of-tree journal module, fails
# check by check against a misbehaving backend, and refuses an unknown
# scheme, a broken module and an unfit vtable with errors naming the problem.
# usage: test_store_check.sh TOOL JOURNAL_MODULE FAULTY_MODULE BROKEN_MODULE
set -u
tool=$1 journal=$2 faulty=$3 broken=$4
dir=$(mktemp -d "${TMPDIR:-/tmp}/gda-store-check-XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
failures=0

fail() {
    echo "FAIL: $1"
    sed 's/^/    /' "$dir/out"
    failures=$((failures + 1))
}

# expect STATUS PATTERN ARGS...: the tool exits with STATUS and its output
# (stdout and stderr) contains PATTERN.
expect() {
    want=$1 pattern=$2
    shift 2
    "$tool" "$@" >"$dir/out" 2>&1
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "gda-store-check $*: exit $got, expected $want"
    elif ! grep -qF -- "$pattern" "$dir/out"; then
        fail "gda-store-check $*: output lacks '$pattern'"
    else
        echo "ok: gda-store-check $* (exit $got)"
    fi
}

expect 0 "every check passed against scheme 'memory'" memory
expect 0 "every check passed against scheme 'journal'" --module "$journal" 'journal:check-{}'
expect 0 "journal:NAME" --module "$journal" --list
if "$tool" --list | grep -q '^sqlite '; then
    expect 0 "every check passed against scheme 'sqlite'" "sqlite:$dir/check-{}.db"
fi
# A backend that forgets: the report names the failed checks.
expect 1 "[  FAILED  ] test_put_inserts_new_key" --module "$faulty" forgetful:
expect 1 "check(s) failed against scheme 'forgetful'" --module "$faulty" forgetful:
expect 1 "store backend 'nullget' has no get operation" --module "$faulty" nullget:
expect 2 "unknown store scheme 'nosuch': registered schemes are memory" nosuch:x
expect 2 "is a gda_store_backend of version 99; this libgda accepts versions 1 to 1" \
    --module "$broken" memory
expect 2 "cannot load module $dir/missing.so" --module "$dir/missing.so" memory
expect 2 "usage:" --bogus
exit "$failures"
