#!/usr/bin/env bash
# The balance-operation benchmark (README, Performance): an adjust of every member of a static group
# (`--members`, default 100,000, loaded straight into the table) through the real job on moto (a free
# port); prints wall time and DynamoDB requests against the minimum. Release mode by default;
# `--debug` runs the debug build (same request figures). E.g.
#   ./infra/bench-balance.sh --debug --members 10000
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
PROFILE=release
if [ "${1:-}" = "--debug" ]; then PROFILE=debug; shift; fi
log "building the benchmark ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --quiet --release -p cg-tests --bench balance
else
  cargo build --quiet -p cg-tests --bench balance
fi
MOTO_PORT="$(free_port)"
log "starting moto on 127.0.0.1:$MOTO_PORT"
start_moto "$MOTO_PORT"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws "$MOTO_PORT"
log "running"
if [ "$PROFILE" = release ]; then
  cargo bench --quiet -p cg-tests --bench balance -- "$@"
else
  "$(ls -t "${CARGO_TARGET_DIR:-$ROOT/target}"/debug/deps/balance-* | grep -v '\.d$' | head -1)" "$@"
fi
