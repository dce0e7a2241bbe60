#!/usr/bin/env bash
# Build a libcurl for function.zip that speaks HTTP and HTTPS (OpenSSL) and
# nothing else, from Debian's own source of the system's libcurl version.
#
#   scripts/build-minimal-curl.sh [OUT_DIR]      (default .deps/curl-minimal)
#   gda-package-lambda bootstrap --library-path OUT_DIR/lib -o function.zip
#
# Debian's libcurl4 links LDAP, Kerberos, SSH, RTMP, IDN, PSL, HTTP/2, brotli
# and zstd, and through them GnuTLS, p11-kit and libunistring: 26 libraries
# the runtime never uses (it talks HTTP to the Runtime API and HTTPS to AWS),
# loaded on every cold start. This build has the same soname and the same
# versioned symbols (CURL_OPENSSL_4), so a program linked against the
# system's libcurl loads it unchanged. The build is cached in OUT_DIR.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.deps/curl-minimal}

version=$(dpkg-query -W -f='${Version}' libcurl4-openssl-dev 2>/dev/null || true)
[ -n "$version" ] || { echo "build-minimal-curl: libcurl4-openssl-dev is not installed" >&2; exit 1; }
upstream=${version%%-*}
stamp="$out/built-from"
if [ "$(cat "$stamp" 2>/dev/null)" = "$upstream" ] && [ -e "$out/lib/libcurl.so.4" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
url="http://deb.debian.org/debian/pool/main/c/curl/curl_${upstream}.orig.tar.gz"
echo "build-minimal-curl: fetching $url" >&2
curl -fsS --retry 3 -o "$work/curl.tar.gz" "$url" || {
  echo "build-minimal-curl: cannot download $url (Debian's archive must be reachable)" >&2; exit 1; }
tar -xzf "$work/curl.tar.gz" -C "$work"
cd "$work/curl-$upstream"
./configure --quiet --prefix="$out" --disable-static --enable-shared \
  --with-openssl --enable-versioned-symbols \
  --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
  --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp \
  --disable-gopher --disable-mqtt --disable-ftp --disable-file --disable-manual \
  --disable-ntlm \
  --without-libpsl --without-brotli --without-zstd --without-nghttp2 --without-libidn2 \
  --without-libssh2 --without-librtmp --without-gssapi --without-zlib \
  --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --without-ca-path >/dev/null
make -s -C lib -j"$(nproc)" >/dev/null
rm -rf "$out"
make -s -C lib install >/dev/null
rm -f "$out/lib/libcurl.la"
echo "$upstream" > "$stamp"
echo "build-minimal-curl: libcurl $upstream (HTTP, HTTPS) in $out/lib" >&2
