#!/usr/bin/env bash
# The benchmark of issues 3 and 18 (not a test): starts a throwaway PostgreSQL 15 cluster and a moto
# server on free ports, runs `cargo run --release -p cg-bench` against both, and removes everything on
# exit. Flags go to the benchmark, e.g. `infra/bench.sh --customers 1000000 --resync-customers 100000`.
# With `--skip-emulator` (part (a) only) neither moto nor the AWS SDK is needed: the benchmark is built
# without its `emulator` feature.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
BENCH_COMMAND="infra/bench.sh $*"
export BENCH_COMMAND

PG_BIN=/usr/lib/postgresql/15/bin
if [ ! -x "$PG_BIN/pg_ctl" ]; then
  log "installing PostgreSQL 15 (Debian package)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql-15
fi
command -v psql >/dev/null || { echo "psql not found (install postgresql-client-15)" >&2; exit 1; }
EMULATOR=1
for arg in "$@"; do
  [ "$arg" = "--skip-emulator" ] && EMULATOR=""
done
if [ -n "$EMULATOR" ]; then
  ensure_venv
else
  # No venv needed for (a): the system Python finds a free port.
  free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
  }
fi

BENCH_TMP="$(mktemp -d /tmp/cg-bench.XXXXXX)"
export BENCH_TMP
PGDATA="$BENCH_TMP/pgdata"
PG_STARTED=""
MOTO_PID=""

# Runs a PostgreSQL tool as the postgres user when we are root (initdb refuses to run as root).
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

cleanup() {
  if [ -n "$PG_STARTED" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "$MOTO_PID" ]; then
    kill "$MOTO_PID" 2>/dev/null || true
  fi
  rm -rf "$BENCH_TMP"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ]; then
  chmod 755 "$BENCH_TMP"
  mkdir -p "$PGDATA"
  chown postgres: "$PGDATA"
fi
PGPORT="$(free_port)"
log "PostgreSQL 15: throwaway cluster in $PGDATA on 127.0.0.1:$PGPORT (default settings)"
as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$BENCH_TMP/initdb.log" 2>&1 \
  || { cat "$BENCH_TMP/initdb.log" >&2; exit 1; }
as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
  -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1" start >/dev/null
PG_STARTED=1
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres PGDATABASE=postgres

FEATURES=()
if [ -n "$EMULATOR" ]; then
  MOTO_PORT="$(free_port)"
  log "starting moto on 127.0.0.1:$MOTO_PORT"
  start_moto "$MOTO_PORT"
  export_local_aws "$MOTO_PORT"
else
  FEATURES=(--no-default-features)
fi

log "cargo run --release -p cg-bench ${FEATURES[*]} -- $*"
cargo run --release --quiet -p cg-bench "${FEATURES[@]}" -- "$@"
