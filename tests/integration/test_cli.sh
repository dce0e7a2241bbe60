#!/usr/bin/env bash
# The gda tool end to end: `gda sign | gda verify` round trips in every
# scheme, refusals (tampered body, wrong key, replay) with exit 1 and the
# reason class on stderr, and usage/configuration errors with exit 2.
# (gda invoke against servers: test_cli_invoke.sh.)
# Usage: test_cli.sh /path/to/gda
set -uo pipefail

gda=${1:?usage: test_cli.sh /path/to/gda}
[ -x "$gda" ] || { echo "not executable: $gda" >&2; exit 1; }
. "$(dirname "$0")/cli_lib.sh"

body=$work/body.json
printf '{"interactionId":"i-1","requestId":"r-1","callerId":"+15550001234"}' >"$body"
tampered=$work/tampered.json
printf '{"interactionId":"i-1","requestId":"r-1","callerId":"+15550009999"}' >"$tampered"
now=1800000000

# --- keygen -----------------------------------------------------------------
expect 0 "keygen" -- "$gda" keygen --id k1
old=$(cat "$work/out")
[[ $old =~ ^k1:[A-Za-z0-9+/]{43}=$ ]] || fail "keygen output '$old' is not k1:BASE64(32 bytes)"
expect 0 "keygen default id" -- "$gda" keygen
new=$(sed 's/^k1:/k2:/' "$work/out")
[ "${new#k2:}" != "${old#k1:}" ] || fail "two keygen runs gave the same secret"
expect 0 "keygen ed25519" -- "$gda" keygen --ed25519 --id ed1
[ "$(wc -l <"$work/out")" = 2 ] || fail "keygen --ed25519 prints two lines"
priv=$(sed -n 1p "$work/out")
pub=$(sed -n 2p "$work/out")
[[ $priv == ed1:ed25519-private:* ]] || fail "first line is not the private key"
[[ $pub == ed1:ed25519:* ]] || fail "second line is not the public entry"
expect 2 "keygen bad id" -- "$gda" keygen --id "bad id"
expect 2 "keygen stray argument" -- "$gda" keygen extra

ring="$new,$old"
printf '%s\n' "$ring" >"$work/keys"

# --- round trips in every scheme ----------------------------------------------
for scheme in token hmac-sha256 jwt basic; do
    expect 0 "$scheme: sign" -- "$gda" sign --scheme "$scheme" --keys "$old" --now $now --body-file "$body"
    cp "$work/out" "$work/headers.$scheme"
    [ -s "$work/headers.$scheme" ] || fail "$scheme: no headers printed"
    # sign | verify through a pipe, the rotated ring holding old and new keys
    checks=$((checks + 1))
    if ! "$gda" sign --scheme "$scheme" --keys "$old" --now $now --body-file "$body" |
        "$gda" verify --scheme "$scheme" --keys-file "$work/keys" --now $now \
            --headers-file - --body-file "$body" >"$work/out" 2>"$work/err"; then
        fail "$scheme: sign | verify refused: $(cat "$work/err")"
    fi
    grep -q "^accepted key=k1 " "$work/out" || fail "$scheme: matched key not reported: $(cat "$work/out")"
    # body on stdin, headers as -H
    args=()
    while IFS= read -r line; do args+=(-H "$line"); done <"$work/headers.$scheme"
    expect 0 "$scheme: -H and stdin body" -- sh -c '"$0" verify "$@" <"'"$body"'"' "$gda" \
        --scheme "$scheme" --keys "$ring" --now $now "${args[@]}"
    # a ring without the signing key refuses it
    expect 1 "$scheme: removed key" -- "$gda" verify --scheme "$scheme" --keys "$new" --now $now \
        --headers-file "$work/headers.$scheme" --body-file "$body"
    expect_err "refused: mismatch" "$scheme: removed key reason"
    # no credential at all
    expect 1 "$scheme: no headers" -- "$gda" verify --scheme "$scheme" --keys "$ring" --now $now \
        --body-file "$body"
    expect_err "refused: missing" "$scheme: missing reason"
    # the same credential twice
    expect 1 "$scheme: repeated header" -- "$gda" verify --scheme "$scheme" --keys "$ring" \
        --now $now "${args[@]}" "${args[@]}" --body-file "$body"
    expect_err "refused: ambiguous" "$scheme: ambiguous reason"
done

# --- hmac: the body and the time are bound ------------------------------------
expect 1 "hmac: tampered body" -- "$gda" verify --scheme hmac --keys "$ring" --now $now \
    --headers-file "$work/headers.hmac-sha256" --body-file "$tampered"
expect_err "refused: mismatch" "hmac: tampered body reason"
expect 0 "hmac: at the window edge" -- "$gda" verify --scheme hmac --keys "$ring" \
    --now $((now + 300)) --headers-file "$work/headers.hmac-sha256" --body-file "$body"
expect 1 "hmac: past the window" -- "$gda" verify --scheme hmac --keys "$ring" \
    --now $((now + 301)) --headers-file "$work/headers.hmac-sha256" --body-file "$body"
expect_err "refused: replayed" "hmac: replay reason"
expect 1 "hmac: from the future" -- "$gda" verify --scheme hmac --keys "$ring" \
    --now $((now - 301)) --headers-file "$work/headers.hmac-sha256" --body-file "$body"
# without a timestamp binding, and with a custom header
expect 0 "hmac: no timestamp" -- sh -c '"$0" sign --scheme hmac --no-timestamp --header X-Sig --keys "$1" --body-file "$2" |
    "$0" verify --scheme hmac --no-timestamp --header X-Sig --keys "$1" --headers-file - --body-file "$2"' \
    "$gda" "$ring" "$body"
expect 1 "hmac: no timestamp, tampered" -- sh -c '"$0" sign --scheme hmac --no-timestamp --keys "$1" --body-file "$2" |
    "$0" verify --scheme hmac --no-timestamp --keys "$1" --headers-file - --body-file "$3"' \
    "$gda" "$ring" "$body" "$tampered"

# --- jwt: lifetime, EdDSA, issuer/audience --------------------------------------
expect 1 "jwt: expired" -- "$gda" verify --scheme jwt --keys "$ring" --now $((now + 300 + 60)) \
    --headers-file "$work/headers.jwt" --body-file "$body"
expect_err "refused: expired" "jwt: expired reason"
printf '%s\n' "$priv" >"$work/ed.private"
expect 0 "jwt EdDSA: sign" -- "$gda" sign --scheme jwt --keys "$pub" --signing-key-file "$work/ed.private" \
    --now $now --iss genesys --aud dataaction --body-file "$body"
cp "$work/out" "$work/headers.eddsa"
expect 0 "jwt EdDSA: verify" -- "$gda" verify --scheme jwt --keys "$ring,$pub" --iss genesys \
    --aud dataaction --now $now --headers-file "$work/headers.eddsa" --body-file "$body"
grep -q "^accepted key=ed1 " "$work/out" || fail "EdDSA: key id not reported"
expect 1 "jwt EdDSA: wrong audience" -- "$gda" verify --scheme jwt --keys "$pub" --iss genesys \
    --aud other --now $now --headers-file "$work/headers.eddsa" --body-file "$body"
expect 1 "jwt EdDSA: not on the allow-list" -- "$gda" verify --scheme jwt --keys "$ring,$pub" \
    --algs HS256 --now $now --headers-file "$work/headers.eddsa" --body-file "$body"
expect_err "refused: algorithm" "jwt: allow-list reason"

# --- token: the header value is the ring's base64 text ---------------------------
expect 0 "token: pasted secret" -- sh -c '"$0" verify --scheme token --keys "$1" -H "X-Genesys-Signature: $2" </dev/null' \
    "$gda" "$ring" "${old#k1:}"
expect 0 "token: GDA_SECRETS" -- env GDA_SECRETS="$ring" sh -c '"$0" verify --scheme token -H "X-Genesys-Signature: $1" </dev/null' \
    "$gda" "${new#k2:}"
expect 1 "token: non-ASCII" -- "$gda" verify --scheme token --keys "$ring" \
    -H "X-Genesys-Signature: $(printf 'caf\303\251')" --body-file "$body"
expect_err "refused: malformed" "token: non-ASCII reason"

# --- usage and configuration errors: exit 2 -----------------------------------
expect 2 "no command" -- "$gda"
expect 2 "unknown command" -- "$gda" frobnicate
expect 0 "top-level help" -- "$gda" --help
for cmd in keygen sign verify invoke; do
    expect 0 "$cmd --help" -- "$gda" "$cmd" --help
    grep -q "usage: gda $cmd" "$work/out" || fail "$cmd --help prints no usage"
done
expect 2 "sign without --scheme" -- "$gda" sign --keys "$ring" --body-file "$body"
expect 2 "verify with unknown scheme" -- "$gda" verify --scheme digest --keys "$ring" --body-file "$body"
expect 2 "unknown option" -- "$gda" verify --scheme token --keys "$ring" --frobnicate
expect 2 "bad -H" -- "$gda" verify --scheme token --keys "$ring" -H "no colon here" --body-file "$body"
expect 2 "no key ring" -- env -u GDA_SECRETS -u GDA_SECRETS_FILE "$gda" verify --scheme token --body-file "$body"
expect 2 "missing key file" -- "$gda" verify --scheme token --keys-file "$work/nope" --body-file "$body"
expect 2 "bad key ring" -- "$gda" verify --scheme token --keys "k1:${old#k1:},k1:${new#k2:}" --body-file "$body"
expect_err 'entry 2 ("k1"): duplicate id' "bad key ring names the entry"
grep -qF -- "${old#k1:}" "$work/err" && fail "a key value reached stderr"
expect 2 "unknown sign key" -- "$gda" sign --scheme hmac --keys "$ring" --key-id k9 --body-file "$body"
expect 2 "bad --now" -- "$gda" verify --scheme token --keys "$ring" --now yesterday --body-file "$body"
expect 2 "headers on stdin need --body-file" -- "$gda" verify --scheme token --keys "$ring" --headers-file -
expect 2 "invoke without a target" -- "$gda" invoke --scheme token --keys "$ring" --body-file "$body"
expect 2 "invoke with two targets" -- "$gda" invoke --scheme token --keys "$ring" --body-file "$body" a b
expect 2 "invoke of a missing file" -- "$gda" invoke --scheme token --keys "$ring" --body-file "$body" "$work/nope"
expect_err "No such file" "invoke of a missing file says so"
expect 2 "invoke of a file that is no bootstrap" -- "$gda" invoke --scheme token --keys "$ring" --body-file "$body" "$body"
expect_err "not an executable bootstrap" "invoke of a non-executable"
expect 2 "invoke --timeout 0" -- "$gda" invoke --scheme token --keys "$ring" --timeout 0 --body-file "$body" http://127.0.0.1:1/
expect 2 "invoke bad -H" -- "$gda" invoke --scheme token --keys "$ring" -H "no colon" --body-file "$body" http://127.0.0.1:1/
expect 2 "hmac scheme bad window" -- "$gda" verify --scheme hmac --keys "$ring" --window 0 --body-file "$body"

finish
