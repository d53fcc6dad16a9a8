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
run_cargo_bench import "$@"
