#!/usr/bin/env bash
# make test: every test of the workspace against its own in-memory DynamoDB Local and a
# moto Secrets Manager, both stopped again however the run ends; then (without a filter)
# the console's browser tests against a fresh local server (scripts/browser-tests.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v cargo-nextest >/dev/null || { echo "cargo-nextest is required (cargo install cargo-nextest)" >&2; exit 1; }
bin=$(scripts/tools-venv.sh)
cargo nextest run --workspace --no-run --cargo-quiet
run_dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cleanup() {
    scripts/dynamodb-local.sh stop "$run_dir/dynamodb.pid"
    [ -f "$run_dir/moto.pid" ] && kill "$(cat "$run_dir/moto.pid")" 2>/dev/null || true
    rm -rf "$run_dir"
}
trap cleanup EXIT
dynamodb_port=$(free_port)
scripts/dynamodb-local.sh start "$dynamodb_port" "$run_dir/dynamodb.pid"
moto_port=$(free_port)
"$bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$run_dir/moto.log" 2>&1 &
echo $! >"$run_dir/moto.pid"
for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null && break
    sleep 0.1
done
DYNAMODB_ENDPOINT="http://127.0.0.1:$dynamodb_port" \
SECRETSMANAGER_ENDPOINT="http://127.0.0.1:$moto_port" \
    cargo nextest run --workspace --no-fail-fast --cargo-quiet "$@"
# The whole suite (no filter given) includes the console in a real browser.
if [ $# -eq 0 ]; then
    scripts/browser-tests.sh
fi
