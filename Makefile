# The two commands a new user needs: `make run` and `make test`.
.PHONY: run test reset bench faults clients screenshots lint template-check server-checks sam-build ci rotation-check customer-levels leaked-token

run: ## serve the API on http://127.0.0.1:$(PORT) (default 3000) with DynamoDB Local
	scripts/run-local.sh

test: ## every test, against its own DynamoDB Local, then the console in headless Chromium
	scripts/test.sh

rotation-check: ## run the daily rotation check now, against the running `make run` server
	@curl -sS -X POST http://127.0.0.1:$${PORT:-3000}/_local/rotation-check; echo

customer-levels: ## run the nightly customer-levels recompute now, against the running `make run` server
	@curl -sS -X POST http://127.0.0.1:$${PORT:-3000}/_local/customer-levels; echo

leaked-token: ## report TOKEN=<a key or session token> as found in public code (a code host's signed alert), against the running `make run` server
	@scripts/report-leaked-token.sh "$(TOKEN)"

reset: ## wipe local data (DynamoDB Local data, demo credentials, pepper)
	rm -rf .local

bench: ## DynamoDB calls per request, hot-path latency, release zip sizes
	scripts/bench.sh

faults: ## the fault drill alone, with its figures: DynamoDB Local stopped and started mid-run (also part of make test)
	scripts/test.sh faults:: --no-capture

clients: ## generate the Python client and the TypeScript types (openapi-fetch) from openapi.yaml into clients/
	scripts/clients.sh

screenshots: ## PNGs of the console's states (locked, keys, created modal, sessions, audit) into docs/console/
	SCREENSHOT_DIR=$(CURDIR)/docs/console scripts/browser-tests.sh

lint: ## formatting and clippy, as CI runs them
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

template-check: ## cfn-lint, sam validate and checkov on template.yaml; openapi-spec-validator, Spectral and Redocly on openapi.yaml
	scripts/template-check.sh

server-checks: ## against a fresh local server: examples/partner_client.py, both generated clients' partner flow, /docs in headless Chromium, schemathesis
	scripts/server-checks.sh

sam-build: ## sam build (cargo-lambda, arm64) of every function, as a deployer runs it
	scripts/sam-build.sh

ci: ## what CI runs
	bash .ci/run
