#!/usr/bin/env bash
# Ensures headless Chromium (Debian packages chromium and chromium-driver) is installed, for
# the docs page check; prints the browser's path.
set -euo pipefail
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo "installing chromium and chromium-driver (Debian packages)" >&2
    sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    export DEBIAN_FRONTEND=noninteractive
    sudo_if_needed apt-get update -qq >&2
    sudo_if_needed apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
fi
command -v chromium
