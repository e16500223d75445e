#!/usr/bin/env bash
# Ensures the project's npm packages (package.json, pinned by package-lock.json: DynamoDB
# Local, the OpenAPI linters, the TypeScript client generator and compiler) are installed in
# node_modules, again whenever package-lock.json changes; prints node_modules/.bin.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
stamp="$ROOT/node_modules/.installed-$(sha256sum "$ROOT/package-lock.json" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "installing npm packages into node_modules/ (package-lock.json)" >&2
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
    touch "$stamp"
fi
echo "$ROOT/node_modules/.bin"
