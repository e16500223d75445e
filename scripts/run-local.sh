#!/usr/bin/env bash
# make run: DynamoDB Local with its data under .local/ (kept across restarts; make reset
# wipes it), the table and demo partner on first start, and the API on 127.0.0.1:$PORT.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PORT=${PORT:-3000}
export DYNAMODB_PORT=${DYNAMODB_PORT:-8000}
mkdir -p .local
chmod 700 .local
if [ ! -s .local/pepper ]; then
    # The local pepper; deployed functions read theirs from Secrets Manager.
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >.local/pepper)
fi
if [ ! -s .local/handover-key ]; then
    # The key that seals secrets shared between admins; deployed, a Secrets Manager secret.
    (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(48))' >.local/handover-key)
fi
cargo build --quiet -p local-server
scripts/dynamodb-local.sh start "$DYNAMODB_PORT" .local/dynamodb.pid .local/dynamodb
trap 'scripts/dynamodb-local.sh stop .local/dynamodb.pid' EXIT
PEPPER=$(cat .local/pepper) HANDOVER_KEY=$(cat .local/handover-key) LOCAL_DIR=.local target/debug/local-server
