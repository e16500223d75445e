#!/usr/bin/env bash
# make template-check: cfn-lint, `sam validate --lint` and checkov on template.yaml (cfn-lint
# and checkov on deploy/edge-waf.yaml too), and
# openapi-spec-validator, Spectral and Redocly on openapi.yaml.
# All work offline without an AWS account.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
bin=$(scripts/tools-venv.sh)
"$bin/cfn-lint" template.yaml deploy/edge-waf.yaml
echo "cfn-lint: template.yaml and deploy/edge-waf.yaml passed"
# Dummy credentials: validation is offline, but the CLI wants a credential chain to exist.
AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline SAM_CLI_TELEMETRY=0 \
    "$bin/sam" validate --lint --region us-east-1 --template-file template.yaml
scripts/checkov.sh
"$bin/openapi-spec-validator" openapi.yaml
node_bin=$(scripts/node-tools.sh)
# The linters' own rulesets (.spectral.yaml: spectral:oas, redocly.yaml: recommended), with
# no exception: any error or warning fails.
"$node_bin/spectral" lint --fail-severity=hint openapi.yaml
redocly=$(REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "$node_bin/redocly" lint openapi.yaml 2>&1) || true
grep -v "[║╔╚]" <<<"$redocly"
if ! grep -q "Your API description is valid" <<<"$redocly" || grep -q "You have" <<<"$redocly"; then
    echo "redocly: openapi.yaml has errors or warnings (above)" >&2
    exit 1
fi
