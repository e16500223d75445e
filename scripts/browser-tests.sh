#!/usr/bin/env bash
# The console's browser tests (tests/browser/, node --test with playwright-core driving
# Debian's chromium) against a fresh local server: in-memory DynamoDB Local, the demo
# partner seeded into a temporary directory; everything stopped again however the run ends.
#   scripts/browser-tests.sh                 (part of make test)
#   SCREENSHOT_DIR=docs/console scripts/browser-tests.sh   (make screenshots)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
scripts/node-tools.sh >/dev/null
chromium=$(scripts/chromium.sh)
# shellcheck source=scripts/fresh-server.sh
source scripts/fresh-server.sh
start_server
CONSOLE_BASE_URL="$base" DEMO_FILE="$run_dir/demo.json" CHROMIUM="$chromium" \
    NODE_PATH="$ROOT/node_modules" node --test --test-reporter=spec tests/browser/
