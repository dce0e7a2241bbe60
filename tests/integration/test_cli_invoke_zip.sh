#!/usr/bin/env bash
# gda invoke of the packaged function.zip (gda-package-lambda): unzipped into
# a private directory, run under the built-in Runtime API, 200 and then the
# replay in one run; the directory is gone afterwards.
# Usage: test_cli_invoke_zip.sh GDA PACKAGE_SCRIPT BOOTSTRAP LAUNCHER DATA_FILE
set -uo pipefail

gda=${1:?usage: test_cli_invoke_zip.sh GDA PACKAGE_SCRIPT BOOTSTRAP LAUNCHER DATA_FILE}
package=${2:?} bootstrap=${3:?} launcher=${4:?} data=${5:?}
. "$(dirname "$0")/cli_lib.sh"
unset GDA_DIRECT_TRUSTED GDA_STORE GDA_AUTH GDA_SECRETS GDA_SECRETS_FILE

sh "$package" "$bootstrap" --launcher "$launcher" --data "$data" \
    -o "$work/function.zip" >/dev/null || { fail "packaging failed"; finish; exit; }
ring=$("$gda" keygen --id k1)
printf '{"interactionId":"3f1c2e8a-9b4d-4c6e-8a1f-2b3c4d5e6f70","requestId":"z-1","callerId":"+15551234567"}' >"$work/body.json"
mkdir "$work/tmp"

expect 0 "zip: 200, then the replay" -- env TMPDIR="$work/tmp" GDA_STORE=memory GDA_SECRETS="$ring" \
    "$gda" invoke --scheme token --keys "$ring" --repeat 2 --body-file "$work/body.json" "$work/function.zip"
[ "$(grep -c '^attempt [12]: 200 ' "$work/out")" = 2 ] || fail "zip: two 200s expected: $(cat "$work/out")"
[ "$(sed -n 2p "$work/out")" = "$(sed -n 4p "$work/out")" ] || fail "zip: the replay differs"
grep -q '"tier":"gold"' "$work/out" || fail "zip: not the enrichment answer (customers.csv in the task root)"
[ -z "$(ls -A "$work/tmp")" ] || fail "zip: the unzip directory was left behind: $(ls -A "$work/tmp")"
expect 1 "zip: init error" -- env TMPDIR="$work/tmp" GDA_SECRETS="$ring" \
    "$gda" invoke --scheme token --keys "$ring" --body-file "$work/body.json" "$work/function.zip"
expect_out "init error" "zip: init error line"
[ -z "$(ls -A "$work/tmp")" ] || fail "zip: the unzip directory was left behind after an init error"

finish
