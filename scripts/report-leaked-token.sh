#!/usr/bin/env bash
# Reports a token as found in public code to the running `make run` server: the alert a
# code host's secret scanning sends (GitHub's partner program), signed with the local
# stand-in host's key (local/src/code_host.rs, which the local server trusts; it signs
# nothing real). Prints the host-format answer: true_positive when a live key or session
# was revoked or ended (its notice goes to .local/notifications.log).
#   scripts/report-leaked-token.sh <token> [url where it was found]
set -euo pipefail
token=${1:?usage: scripts/report-leaked-token.sh <token> [url]}
url=${2:-https://github.com/example/app/blob/main/.env}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
code_host="$ROOT/local/src/code_host.rs"
private_key=$(sed -n 's/^const PRIVATE_KEY_PKCS8: &str = "\(.*\)";$/\1/p' "$code_host")
key_id=$(sed -n 's/^pub const KEY_IDENTIFIER: &str = "\(.*\)";$/\1/p' "$code_host")
[ -n "$private_key" ] && [ -n "$key_id" ] || { echo "no stand-in key in $code_host" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s' "$private_key" | base64 -d >"$work/key.der"
openssl pkey -inform DER -in "$work/key.der" -out "$work/key.pem"
python3 -c 'import json, sys; print(json.dumps([{"token": sys.argv[1], "type": "partner_portal_api_key", "url": sys.argv[2], "source": "content"}]), end="")' \
    "$token" "$url" >"$work/body"
signature=$(openssl dgst -sha256 -sign "$work/key.pem" "$work/body" | base64 -w0)
curl -sS -X POST "http://127.0.0.1:${PORT:-3000}/v1/secret-scanning/alerts" \
    -H 'content-type: application/json' \
    -H "Github-Public-Key-Identifier: $key_id" \
    -H "Github-Public-Key-Signature: $signature" \
    --data-binary @"$work/body"
echo
