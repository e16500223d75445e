# Sourced by scripts/server-checks.sh and scripts/browser-tests.sh: a fresh local server for
# one phase — in-memory DynamoDB Local on a free port, the demo partner seeded into a
# temporary directory ($run_dir, with demo.json) — stopped again however the run ends.
#   start_server [VAR=value ...]   (again after stop_server, e.g. with other settings)
#   stop_server
# Sets PORT, DYNAMODB_PORT, run_dir and base (http://127.0.0.1:$PORT).
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
base="http://127.0.0.1:$PORT"
scripts/dynamodb-local.sh start "$DYNAMODB_PORT" "$run_dir/dynamodb.pid"
start_server() {
    env "$@" PEPPER=fresh-server-pepper-0123456789abcdef-01234 LOCAL_DIR="$run_dir" RUST_LOG=warn \
        target/debug/local-server >"$run_dir/server.log" 2>&1 &
    echo $! >"$run_dir/server.pid"
    for _ in $(seq 1 300); do
        grep -q "listening on" "$run_dir/server.log" 2>/dev/null && return 0
        kill -0 "$(cat "$run_dir/server.pid")" 2>/dev/null || { cat "$run_dir/server.log" >&2; exit 1; }
        sleep 0.5
    done
    echo "the local server did not start" >&2
    exit 1
}
stop_server() { kill "$(cat "$run_dir/server.pid")"; wait "$(cat "$run_dir/server.pid")" 2>/dev/null || true; }
