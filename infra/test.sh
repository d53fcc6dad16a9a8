#!/usr/bin/env bash
# Runs every test: format, clippy, cfn-lint, unit and property tests, emulator-backed integration tests,
# HTTP end-to-end tests against the dev server, and schemathesis against the dev server from the
# OpenAPI document. Starts and stops its own moto server on free ports.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
started=$(date +%s)

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
log "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml

MOTO_PORT="$(free_port)"
log "starting moto on 127.0.0.1:$MOTO_PORT"
start_moto "$MOTO_PORT"
cleanup() { [ -n "${DEV_PID:-}" ] && kill -INT "$DEV_PID" 2>/dev/null; kill "$MOTO_PID" 2>/dev/null || true; }
trap cleanup EXIT
export_local_aws "$MOTO_PORT"

log "cargo test (unit, property, emulator integration, HTTP end-to-end)"
cargo test --workspace --quiet

API_PORT="$(free_port)"
log "schemathesis against the dev server on 127.0.0.1:$API_PORT"
cargo build --quiet -p cg-local --bin cg-local
"$BIN" run --port "$API_PORT" --tick-seconds 3600 >"$STATE/dev-server-test.log" 2>&1 &
DEV_PID=$!
wait_port "$API_PORT" 120
TOKEN="$("$BIN" token "schemathesis-$(date +%s)")"
"$VENV/bin/schemathesis" run infra/openapi.yaml \
  --url "http://127.0.0.1:$API_PORT" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" \
  --seed 20261124 \
  --no-color

log "all tests passed in $(( $(date +%s) - started ))s"
