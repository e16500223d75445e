#!/usr/bin/env bash
# make template-check: cfn-lint, `sam validate --lint` and checkov on template.yaml, and
# openapi-spec-validator on openapi.yaml. All work offline without an AWS account.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bin=$(scripts/tools-venv.sh)
"$bin/cfn-lint" template.yaml
echo "cfn-lint: template.yaml passed"
# Dummy credentials: validation is offline, but the CLI wants a credential chain to exist.
AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0 \
    "$bin/sam" validate --lint --region us-east-1 --template-file template.yaml
scripts/checkov.sh
"$bin/openapi-spec-validator" openapi.yaml
