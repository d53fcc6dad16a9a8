#!/usr/bin/env bash
# Runs every test: format, clippy, cfn-lint, unit and property tests, emulator-backed integration tests,
# HTTP end-to-end tests against the dev server, schemathesis against the dev server from the
# OpenAPI document, and the console's browser tests (headless chromium) against a fresh dev server.
# Starts and stops its own moto server on free ports.
source "$(dirname "$0")/lib.sh"
set -o pipefail
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
cargo test --workspace --quiet 2>&1 | tee "$STATE/cargo-test.log"
cargo_passed=$(grep -Eo '^test result: ok\. [0-9]+ passed' "$STATE/cargo-test.log" | awk '{s+=$4} END {print s+0}')

API_PORT="$(free_port)"
log "schemathesis against the dev server on 127.0.0.1:$API_PORT"
# The same feature set as the test build above, so this only links (`-p cg-local` would rebuild deps).
cargo build --quiet --workspace --bins --tests
"$BIN" run --port "$API_PORT" --tick-seconds 3600 --no-outbound >"$STATE/dev-server-test.log" 2>&1 &
DEV_PID=$!
wait_port "$API_PORT" 120
TOKEN="$("$BIN" token "schemathesis-$(date +%s)")"
# Every check; the response-time limit only catches hangs (timing is for benchmarks, never tests, and
# moto under one lock is slow on a loaded machine),
# two seeds (the CI seed and the one issue 11 probed with); infra/schemathesis.toml lists
# the rules OpenAPI 3.0 cannot state.
: > "$STATE/schemathesis.log"
# 25 examples per operation on the CI seed, 10 on the second: about 15 minutes on this 2-core machine
# (40 and 20 took 27 minutes, most of the test command; raise them with the variables to probe deeper).
for run in 20261124:"${SCHEMATHESIS_EXAMPLES:-25}" 7:"${SCHEMATHESIS_EXAMPLES_2:-10}"; do
  seed="${run%%:*}" examples="${run##*:}"
  "$VENV/bin/schemathesis" --config-file infra/schemathesis.toml run infra/openapi.yaml \
    --url "http://127.0.0.1:$API_PORT" \
    --header "Authorization: Bearer $TOKEN" \
    --checks all --max-response-time 120 --request-timeout 150 \
    --max-examples "$examples" \
    --seed "$seed" \
    --no-color | tee -a "$STATE/schemathesis.log"
done
st_passed=$(grep -Eo '[0-9]+ generated, [0-9]+ passed' "$STATE/schemathesis.log" | awk '{s+=$3} END {print s+0}')

# The browser tests get a stack of their own (a fresh moto and dev server): the fuzzer leaves
# thousands of webhook deliveries to dead endpoints queued, with retries due for the next 30 minutes,
# and the dev server's four delivery pollers (Lambda's concurrency in AWS) would work through them
# before a browser flow's delivery. (Fair sharing of the queue between tenants is noted in the README.)
kill -INT "$DEV_PID" 2>/dev/null; wait "$DEV_PID" 2>/dev/null || true
kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null || true
MOTO_PORT="$(free_port)"
start_moto "$MOTO_PORT"
export_local_aws "$MOTO_PORT"
API_PORT="$(free_port)"
log "browser tests of the console (chromium + playwright-core) against a fresh dev server on 127.0.0.1:$API_PORT"
# COUNT_SYNC_MAX=3: a count over more than 3 customers runs as a count job, so the search and bulk
# delete flows go through the job's progress and the preview's count_job_id.
COUNT_SYNC_MAX=3 "$BIN" run --port "$API_PORT" --tick-seconds 3600 --no-outbound >"$STATE/dev-server-browser.log" 2>&1 &
DEV_PID=$!
wait_port "$API_PORT" 120
ensure_browser
CG_URL="http://127.0.0.1:$API_PORT" CG_TOKEN="$("$BIN" token "browser-$(date +%s)")" \
  CG_SCREENSHOTS="$ROOT/docs/screenshots" \
  node --test --test-concurrency=1 --test-reporter=spec tests/browser/console.test.mjs 2>&1 | tee "$STATE/browser.log" || {
  # What the dev server's workers were doing, for a failure seen only in CI.
  echo "--- the dev server's last log lines"; tail -n 60 "$STATE/dev-server-browser.log" | cut -c1-400
  exit 1
}
br_passed=$(grep -Eo '(ℹ|#) pass [0-9]+' "$STATE/browser.log" | awk '{print $3}' | tail -n1)

log "all tests passed in $(( $(date +%s) - started ))s: $cargo_passed cargo tests, ${st_passed:-0} schemathesis cases, ${br_passed:-0} browser tests"
echo "tests: $(( cargo_passed + ${st_passed:-0} + ${br_passed:-0} )) passed, 0 failed"
