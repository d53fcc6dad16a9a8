#!/usr/bin/env bash
# The search benchmark (README, Customer search): generated customers loaded into a fresh tenant on
# moto (a free port); prints the DynamoDB Queries, customers read and time of first search pages, a
# walk of a rare filter and an exact count. Release mode by default; `--debug` runs the debug build (no
# release build of the SDK crates needed; the request figures are the same, our CPU share
# is slower). Other arguments go to the benchmark, e.g.
#   ./infra/bench-search.sh --customers 20000
#   ./infra/bench-search.sh --debug --customers 20000
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
PROFILE=release
if [ "${1:-}" = "--debug" ]; then PROFILE=debug; shift; fi
log "building the benchmark ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --quiet --release -p cg-tests --bench search
else
  cargo build --quiet -p cg-tests --bench search
fi
MOTO_PORT="$(free_port)"
log "starting moto on 127.0.0.1:$MOTO_PORT"
start_moto "$MOTO_PORT"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws "$MOTO_PORT"
log "running"
if [ "$PROFILE" = release ]; then
  cargo bench --quiet -p cg-tests --bench search -- "$@"
else
  "$(ls -t "${CARGO_TARGET_DIR:-$ROOT/target}"/debug/deps/search-* | grep -v '\.d$' | head -1)" "$@"
fi
