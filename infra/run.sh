#!/usr/bin/env bash
# Runs the whole system locally: moto (DynamoDB, S3, SQS) on 127.0.0.1:4566, the resources from
# template.yaml, demo data, and the dev server (HTTP API, queue workers, scheduler) on 127.0.0.1:8080.
# Ctrl-C stops everything. Ports: MOTO_PORT and API_PORT.
source "$(dirname "$0")/lib.sh"
MOTO_PORT="${MOTO_PORT:-4566}"
API_PORT="${API_PORT:-8080}"
ensure_venv
log "building"
cargo build --quiet -p cg-local --bin cg-local
log "starting moto on 127.0.0.1:$MOTO_PORT"
start_moto "$MOTO_PORT"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws "$MOTO_PORT"
"$BIN" run --port "$API_PORT" --tick-seconds "${TICK_SECONDS:-300}" &
DEV_PID=$!
trap 'kill -INT "$DEV_PID" 2>/dev/null; wait "$DEV_PID" 2>/dev/null; kill "$MOTO_PID" 2>/dev/null || true' EXIT INT TERM
wait "$DEV_PID"
