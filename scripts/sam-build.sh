#!/usr/bin/env bash
# make sam-build: `sam build` (cargo-lambda, arm64, release) as a deployer runs it, into
# .aws-sam/; then checks that every function of template.yaml got its bootstrap binary.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PATH="$(scripts/tools-venv.sh):$PATH"
export PATH SAM_CLI_TELEMETRY=0
rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$' || rustup target add aarch64-unknown-linux-gnu
sam build
python3 - <<'PY'
import pathlib, re, sys
template = pathlib.Path("template.yaml").read_text()
functions = re.findall(r"^  (\w+):\n    Type: AWS::Serverless::Function$", template, re.MULTILINE)
missing = [f for f in functions if not (pathlib.Path(".aws-sam/build") / f / "bootstrap").is_file()]
if not functions or missing:
    sys.exit(f"sam build left functions without a bootstrap: {missing or 'no functions found'}")
print(f"sam build: {len(functions)} functions built for arm64 in .aws-sam/build")
PY
