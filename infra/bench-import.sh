#!/usr/bin/env bash
# The import benchmark (README, Performance): generated customers as CSV and XLSX through the real
# import job on moto (a free port), in release mode; prints wall time, rows/s, the worker's peak RSS
# and DynamoDB requests against the minimum. Arguments go to the benchmark, e.g.
#   ./infra/bench-import.sh --rows 200000 --formats csv,xlsx
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
log "building the benchmark (release)"
cargo build --quiet --release -p cg-tests --bench import
MOTO_PORT="$(free_port)"
log "starting moto on 127.0.0.1:$MOTO_PORT"
start_moto "$MOTO_PORT"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws "$MOTO_PORT"
log "running"
cargo bench --quiet -p cg-tests --bench import -- "$@"
