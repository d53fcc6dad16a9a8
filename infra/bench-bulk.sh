#!/usr/bin/env bash
# The bulk-action benchmark (README, Bulk modify and bulk delete): `--customers` generated customers
# (default 100,000) in one static group; the first search page, an exact count, a bulk modify of all and
# a bulk delete of half through the real jobs on moto (a free port); prints wall time and DynamoDB requests against the minimum. Release mode by default;
# `--debug` runs the debug build (same request figures). E.g.
#   ./infra/bench-bulk.sh --debug --customers 20000
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
run_cargo_bench bulk "$@"
