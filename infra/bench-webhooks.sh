#!/usr/bin/env bash
# The webhooks benchmark (README, Webhooks): deliveries, HTTP requests and SDK calls per 10,000
# membership changes, and the delay from a change to its delivery, on the local stack (moto on a free
# port). Arguments go to the benchmark, e.g. `./infra/bench-webhooks.sh --customers 5000`
# (2 x customers changes: every customer enters a dynamic group, then leaves it).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
# A debug build (PROFILE=release for an optimised one): the time goes to moto and the network path, not
# to our code, and a first release build of the SDK crates costs 20+ minutes on 2 cores.
PROFILE="${PROFILE:-dev}"
log "building the benchmark ($PROFILE)"
cargo build --quiet --profile "$PROFILE" -p cg-tests --bench webhooks
MOTO_PORT="$(free_port)"
log "starting moto on 127.0.0.1:$MOTO_PORT"
start_moto "$MOTO_PORT"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws "$MOTO_PORT"
log "running"
cargo bench --quiet --profile "$PROFILE" -p cg-tests --bench webhooks -- "$@"
