#!/usr/bin/env bash
# The browser tests (tests/browser/: the console, and CORS from a partner's page on a second
# origin; node --test with playwright-core driving Debian's chromium, one file after the
# other as they share the demo partner) against a fresh local server: in-memory DynamoDB Local, the demo
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
    NODE_PATH="$ROOT/node_modules" node --test --test-concurrency=1 --test-reporter=spec tests/browser/
