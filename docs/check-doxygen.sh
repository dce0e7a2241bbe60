#!/bin/sh
# Builds the API reference into a scratch directory and fails on any doxygen
# warning (an undocumented public symbol, a broken reference, a bad command).
# Doxygen misses undocumented enum values, so its XML output is checked too.
# Usage: check-doxygen.sh DOXYGEN DOXYFILE XMLCHECK
# DOXYGEN is the program meson found, or "" when it found none; XMLCHECK is
# check_doxygen_xml.py.
set -eu
doxygen=$1
doxyfile=$2
xmlcheck=$3
if [ -z "$doxygen" ] || ! command -v "$doxygen" >/dev/null 2>&1; then
    echo "check-doxygen: doxygen not found; install it (Debian: apt-get install doxygen," >&2
    echo "or run scripts/install-deps.sh) and reconfigure the build" >&2
    exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The Doxyfile stops at the first warning (WARN_AS_ERROR=YES); here every
# warning is listed before failing, so one run shows all that must be fixed.
if ! { cat "$doxyfile"; printf 'OUTPUT_DIRECTORY=%s\nWARN_AS_ERROR=FAIL_ON_WARNINGS\nGENERATE_XML=YES\n' "$out"; } \
        | "$doxygen" - >"$out/stdout.log" 2>"$out/warnings.log"; then
    cat "$out/warnings.log" >&2
    echo "check-doxygen: doxygen failed" >&2
    exit 1
fi
if [ -s "$out/warnings.log" ]; then
    cat "$out/warnings.log" >&2
    echo "check-doxygen: doxygen wrote warnings" >&2
    exit 1
fi
if [ ! -f "$out/html/index.html" ]; then
    echo "check-doxygen: no html/index.html was generated" >&2
    exit 1
fi
python3 "$xmlcheck" "$out/xml"
echo "check-doxygen: API reference built without warnings"
