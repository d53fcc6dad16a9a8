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
run_cargo_bench search "$@"
