#!/usr/bin/env bash
# make server-checks: against a fresh local server (in-memory DynamoDB Local, demo partner
# seeded into a temporary directory), the partner client example and the docs page in
# headless Chromium; everything stopped again however the run ends.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --quiet -p local-server
run_dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cleanup() {
    [ -f "$run_dir/server.pid" ] && kill "$(cat "$run_dir/server.pid")" 2>/dev/null || true
    scripts/dynamodb-local.sh stop "$run_dir/dynamodb.pid"
    rm -rf "$run_dir"
}
trap cleanup EXIT
export DYNAMODB_PORT PORT
DYNAMODB_PORT=$(free_port)
PORT=$(free_port)
scripts/dynamodb-local.sh start "$DYNAMODB_PORT" "$run_dir/dynamodb.pid"
PEPPER=client-check-pepper-0123456789abcdef-0123 LOCAL_DIR="$run_dir" RUST_LOG=warn \
    target/debug/local-server >"$run_dir/server.log" 2>&1 &
echo $! >"$run_dir/server.pid"
for _ in $(seq 1 300); do
    grep -q "listening on" "$run_dir/server.log" && break
    kill -0 "$(cat "$run_dir/server.pid")" 2>/dev/null || { cat "$run_dir/server.log" >&2; exit 1; }
    sleep 0.5
done
base="http://127.0.0.1:$PORT"

echo "-- examples/partner_client.py"
export PORTAL_DEMO_FILE="$run_dir/demo.json"
python3 examples/partner_client.py
python3 examples/partner_client.py "/v1/accounts?limit=100"

echo "-- GET /docs in headless Chromium"
chromium=$(scripts/chromium.sh)
browse() { "$chromium" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$run_dir/chromium" "$@" 2>>"$run_dir/chromium.log"; }
browse --dump-dom "$base/docs" >"$run_dir/docs.dom"
browse --screenshot="$run_dir/docs.png" --window-size=1280,2000 "$base/docs" >/dev/null
python3 scripts/docs_check.py "$run_dir/docs.dom" "$run_dir/docs.png" openapi.yaml
