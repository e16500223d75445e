#!/usr/bin/env bash
# Ensures the project's Python tools (scripts/python-tools.txt: cfn-lint, SAM CLI,
# cargo-lambda, moto, openapi-spec-validator, schemathesis, openapi-python-client) are installed in .tools/venv;
# prints the venv's bin directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
venv="$ROOT/.tools/venv"
stamp="$venv/.installed-$(sha256sum "$ROOT/scripts/python-tools.txt" | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    echo "installing Python tools into .tools/venv (scripts/python-tools.txt)" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/scripts/python-tools.txt" >&2
    touch "$stamp"
fi
echo "$venv/bin"
