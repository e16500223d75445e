#!/usr/bin/env bash
# make template-check: cfn-lint and `sam validate --lint` on template.yaml. Both work
# offline without an AWS account; the tools live in a project venv under .tools/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
venv=.tools/venv
stamp="$venv/.installed-$(sha256sum scripts/python-tools.txt | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/python-tools.txt
    touch "$stamp"
fi
"$venv/bin/cfn-lint" template.yaml
echo "cfn-lint: template.yaml passed"
# Dummy credentials: validation is offline, but the CLI wants a credential chain to exist.
AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0 \
    "$venv/bin/sam" validate --lint --region us-east-1 --template-file template.yaml
