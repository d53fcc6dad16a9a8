#!/usr/bin/env bash
# The import benchmark (README, Performance): generated customers as CSV and XLSX through the real
# import job on moto (a free port); prints wall time, rows/s, the worker's peak RSS and DynamoDB
# requests against the minimum. Release mode by default; `--debug` first runs the debug build (no
# release build of the SDK crates needed; the request and memory figures are the same, our CPU share
# is slower). Other arguments go to the benchmark, e.g.
#   ./infra/bench-import.sh --rows 200000 --formats csv,xlsx
#   ./infra/bench-import.sh --debug --rows 200000
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
PROFILE=release
if [ "${1:-}" = "--debug" ]; then PROFILE=debug; shift; fi
log "building the benchmark ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --quiet --release -p cg-tests --bench import
else
  cargo build --quiet -p cg-tests --bench import
fi
MOTO_PORT="$(free_port)"
log "starting moto on 127.0.0.1:$MOTO_PORT"
start_moto "$MOTO_PORT"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws "$MOTO_PORT"
log "running"
if [ "$PROFILE" = release ]; then
  cargo bench --quiet -p cg-tests --bench import -- "$@"
else
  "$(ls -t "${CARGO_TARGET_DIR:-$ROOT/target}"/debug/deps/import-* | grep -v '\.d$' | head -1)" "$@"
fi
