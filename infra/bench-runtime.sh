#!/usr/bin/env bash
# The runtime benchmark of issue 12 (not a test): starts moto on a free port and runs cg-runtime-bench,
# which runs the function binaries under the Lambda Runtime API with a metering proxy in front of moto,
# prints the start-up and latency targets and writes infra/cost/counts.json for infra/cost/cost.py.
# Flags go to the benchmark, e.g. `infra/bench-runtime.sh --customers 1000 --events 200`.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
BENCH_COMMAND="infra/bench-runtime.sh $*"
export BENCH_COMMAND
log "building (the same artifacts as cargo test --workspace, plus every binary)"
cargo build --quiet --workspace --bins --tests
MOTO_PORT="$(free_port)"
log "starting moto on 127.0.0.1:$MOTO_PORT"
start_moto "$MOTO_PORT"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws "$MOTO_PORT"
log "running"
"${CARGO_TARGET_DIR:-$ROOT/target}/debug/cg-runtime-bench" "$@"
