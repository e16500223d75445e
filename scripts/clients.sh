#!/usr/bin/env bash
# make clients: from openapi.yaml, the Python client (openapi-python-client) in
# clients/python/partner_portal_api_client and the TypeScript types (openapi-typescript, for
# openapi-fetch) in clients/typescript/schema.d.ts, with the TypeScript flow compiled.
# Any generator warning fails it.
#
#   scripts/clients.sh                    generate both clients
#   scripts/clients.sh flows <demo.json>  both generated clients run the partner flow against
#                                         the server demo.json names (make server-checks)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
venv=$(scripts/tools-venv.sh)
node_bin=$(scripts/node-tools.sh)

generate() {
    local log
    log=$(mktemp)
    rm -rf clients/python/partner_portal_api_client
    # openapi-python-client formats its output with ruff, which it finds on PATH.
    PATH="$venv:$PATH" "$venv/openapi-python-client" generate --path openapi.yaml \
        --output-path clients/python/partner_portal_api_client --meta none 2>&1 | tee "$log"
    "$node_bin/openapi-typescript" openapi.yaml -o clients/typescript/schema.d.ts 2>&1 | tee -a "$log"
    if grep -qiE "warn" "$log"; then
        echo "a client generator warned (above): openapi.yaml needs a change" >&2
        exit 1
    fi
    rm -f "$log"
    "$venv/python" -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], "w"))' \
        openapi.yaml clients/typescript/openapi.json
    "$node_bin/tsc" -p clients/typescript
    echo "clients: Python in clients/python/partner_portal_api_client, TypeScript in clients/typescript"
}

flows() {
    local demo=$1
    echo "-- the partner flow with the generated Python client"
    PYTHONDONTWRITEBYTECODE=1 "$venv/python" clients/python/flow.py "$demo"
    echo "-- the partner flow with the generated TypeScript types and openapi-fetch"
    node clients/typescript/dist/flow.mjs "$demo" clients/typescript/openapi.json
}

case "${1:-generate}" in
    generate) generate ;;
    flows) flows "${2:?usage: $0 flows <demo.json>}" ;;
    *) echo "usage: $0 [generate | flows <demo.json>]" >&2; exit 2 ;;
esac
