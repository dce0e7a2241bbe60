#!/bin/sh
# Build function.zip for the provided.al2023 Lambda runtime.
#
#   scripts/package-lambda.sh --bootstrap BUILD/shims/lambda/bootstrap \
#       --launcher BUILD/shims/lambda/bootstrap-launcher \
#       [--data examples/enrichment/customers.csv]... --out function.zip
#
# (or: ninja -C BUILD lambda-zip)
#
# The build host's glibc is newer than Amazon Linux 2023's, so the zip
# carries everything the runtime links, including libc and the dynamic
# loader, and runs it through that loader:
#
#   bootstrap          static launcher: execs lib/ld.so --library-path lib bin/gda-bootstrap
#   bin/gda-bootstrap  the runtime (shims/lambda/main.c + the example handler)
#   lib/ld.so          the dynamic loader the binary was linked against
#   lib/*.so*          every library ldd lists: libgda, libgda-lambda, libc,
#                      libcurl and all its dependencies, jansson, libsodium,
#                      libcrypto, sqlite, ...
#   customers.csv      data files given with --data, at the top level
#
# The launcher is an ELF binary rather than a shell script so that the zip
# needs nothing from the target system, not even /bin/sh.
set -eu

bootstrap= launcher= out= data=
while [ $# -gt 0 ]; do
  case "$1" in
    --bootstrap) bootstrap=$2; shift 2 ;;
    --launcher) launcher=$2; shift 2 ;;
    --data) data="$data $2"; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "package-lambda: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$bootstrap" ] && [ -n "$launcher" ] && [ -n "$out" ] || {
  echo "usage: package-lambda.sh --bootstrap BIN --launcher BIN [--data FILE]... --out ZIP" >&2
  exit 2
}
for tool in ldd zip; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "package-lambda: $tool is required (apt-get install zip libc-bin)" >&2; exit 1; }
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT INT TERM
mkdir -p "$stage/bin" "$stage/lib"

cp "$launcher" "$stage/bootstrap"
cp "$bootstrap" "$stage/bin/gda-bootstrap"
chmod 0755 "$stage/bootstrap" "$stage/bin/gda-bootstrap"

# ldd prints "name => /path (0x...)" for libraries and "/path/ld-linux... (0x...)"
# for the loader. A "not found" line means the binary cannot run: stop.
ldd_out=$(ldd "$bootstrap")
if printf '%s\n' "$ldd_out" | grep -q 'not found'; then
  printf '%s\n' "$ldd_out" >&2
  echo "package-lambda: unresolved libraries" >&2
  exit 1
fi
loader=
printf '%s\n' "$ldd_out" | while read -r first second third _; do
  if [ "$second" = "=>" ] && [ -n "$third" ] && [ "${third#/}" != "$third" ]; then
    cp -L "$third" "$stage/lib/$first"
  fi
done
loader=$(printf '%s\n' "$ldd_out" | awk '$1 ~ /^\// && $2 !~ /=>/ {print $1; exit}')
[ -n "$loader" ] || { echo "package-lambda: no dynamic loader in ldd output" >&2; exit 1; }
cp -L "$loader" "$stage/lib/ld.so"
chmod 0755 "$stage/lib/"*

for f in $data; do
  cp "$f" "$stage/$(basename "$f")"
  chmod 0644 "$stage/$(basename "$f")"
done

case "$out" in /*) ;; *) out="$(pwd)/$out" ;; esac
rm -f "$out"
(cd "$stage" && zip -q -X -r "$out" bootstrap bin lib $(for f in $data; do basename "$f"; done))
echo "package-lambda: wrote $out ($(wc -c < "$out") bytes)"
