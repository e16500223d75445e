#!/usr/bin/env bash
# The console's browser tests (tests/browser/, node --test with playwright-core driving
# Debian's chromium) against a fresh local server: in-memory DynamoDB Local, the demo
# partner seeded into a temporary directory; everything stopped again however the run ends.
#   scripts/browser-tests.sh                 (part of make test)
#   SCREENSHOT_DIR=docs/console scripts/browser-tests.sh   (make screenshots)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
cargo build --quiet -p local-server
node_bin=$(scripts/node-tools.sh)
chromium=$(scripts/chromium.sh)
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
PEPPER=browser-tests-pepper-0123456789abcdef-0123 LOCAL_DIR="$run_dir" RUST_LOG=warn \
    target/debug/local-server >"$run_dir/server.log" 2>&1 &
echo $! >"$run_dir/server.pid"
for _ in $(seq 1 300); do
    grep -q "listening on" "$run_dir/server.log" && break
    kill -0 "$(cat "$run_dir/server.pid")" 2>/dev/null || { cat "$run_dir/server.log" >&2; exit 1; }
    sleep 0.5
done
CONSOLE_BASE_URL="http://127.0.0.1:$PORT" DEMO_FILE="$run_dir/demo.json" CHROMIUM="$chromium" \
    NODE_PATH="$ROOT/node_modules" node --test --test-reporter=spec tests/browser/
