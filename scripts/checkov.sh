#!/usr/bin/env bash
# checkov (PyPI, in its own venv .tools/checkov-venv: its dependencies would clash with the
# other tools' pins) on template.yaml and deploy/edge-waf.yaml. The checks in scripts/checkov-skips.txt are skipped,
# each with its reason there; every other failing check fails.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
version=3.3.30
venv="$ROOT/.tools/checkov-venv"
if [ ! -f "$venv/.installed-$version" ]; then
    echo "installing checkov $version into .tools/checkov-venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$version" >&2
    touch "$venv/.installed-$version"
fi
skips=$(grep -v '^#' scripts/checkov-skips.txt | awk 'NF {print $1}' | paste -sd, -)
"$venv/bin/checkov" --file template.yaml --file deploy/edge-waf.yaml --framework cloudformation --compact --quiet --skip-download \
    --skip-check "$skips"
echo "checkov: template.yaml and deploy/edge-waf.yaml passed (skipped with reasons: $skips)"
