#!/usr/bin/env bash
# make test: every test of the workspace against its own in-memory DynamoDB Local, which
# is stopped again however the run ends.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
command -v cargo-nextest >/dev/null || { echo "cargo-nextest is required (cargo install cargo-nextest)" >&2; exit 1; }
cargo nextest run --workspace --no-run --cargo-quiet
run_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scripts/dynamodb-local.sh start "$port" "$run_dir/dynamodb.pid"
trap 'scripts/dynamodb-local.sh stop "$run_dir/dynamodb.pid"; rm -rf "$run_dir"' EXIT
DYNAMODB_ENDPOINT="http://127.0.0.1:$port" cargo nextest run --workspace --no-fail-fast --cargo-quiet "$@"
