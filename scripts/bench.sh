#!/usr/bin/env bash
# make bench: DynamoDB calls per request and hot-path latency (against its own DynamoDB
# Local), then each function's release zip (cargo lambda build --release --arm64). Ends
# with one `name: value` line per figure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

# cargo-lambda (with zig for cross-linking) comes from PyPI into the project venv.
PATH="$(scripts/tools-venv.sh):$PATH"
export PATH
rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$' || rustup target add aarch64-unknown-linux-gnu

cargo build --release --quiet -p bench
run_dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
scripts/dynamodb-local.sh start "$port" "$run_dir/dynamodb.pid"
trap 'scripts/dynamodb-local.sh stop "$run_dir/dynamodb.pid"; rm -rf "$run_dir"' EXIT
DYNAMODB_ENDPOINT="http://127.0.0.1:$port" target/release/bench | tee "$run_dir/figures"
scripts/dynamodb-local.sh stop "$run_dir/dynamodb.pid"

functions=$(ls functions)
cargo lambda build --release --arm64 --output-format zip $(printf -- '-p %s ' $functions) >&2
max=0
for function in $functions; do
    bytes=$(stat -c %s "target/lambda/$function/bootstrap.zip")
    echo "zip_bytes_${function//-/_}: $bytes" >>"$run_dir/figures"
    [ "$bytes" -gt "$max" ] && max=$bytes
done
echo "max_zip_bytes: $max" >>"$run_dir/figures"
echo
echo "== figures"
grep -E '^[a-z0-9_]+: ' "$run_dir/figures"
