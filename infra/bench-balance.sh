#!/usr/bin/env bash
# The balance-operation benchmark (README, Performance): an adjust of every member of a static group
# (`--members`, default 100,000, loaded straight into the table) through the real job on moto (a free
# port); prints wall time and DynamoDB requests against the minimum. Release mode by default;
# `--debug` runs the debug build (same request figures). E.g.
#   ./infra/bench-balance.sh --debug --members 10000
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
run_cargo_bench balance "$@"
