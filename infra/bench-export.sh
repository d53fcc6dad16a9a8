#!/usr/bin/env bash
# The export benchmark (README, Performance): encoder vs the raw csv crate, then the export worker path
# against moto on a free port, in release mode. Arguments go to the benchmark, e.g.
#   ./infra/bench-export.sh --rows 1000000 --worker-rows 20000
# --rows: rows encoded and rows exported from generated pages (default 1,000,000);
# --worker-rows: members bulk loaded into moto's DynamoDB and exported from there (default --rows;
# moto's Query walks and sorts the whole table on every page, so keep it small); --encode-only.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ensure_venv
log "building the benchmark (release)"
cargo build --quiet --release -p cg-tests --bench export
MOTO_PORT="$(free_port)"
log "starting moto on 127.0.0.1:$MOTO_PORT"
start_moto "$MOTO_PORT"
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
export_local_aws "$MOTO_PORT"
log "running"
cargo bench --quiet -p cg-tests --bench export -- "$@"
