# Shared shell functions of infra/run.sh and infra/test.sh. Sourced, not run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STATE="$ROOT/.local"
mkdir -p "$STATE"
# The dev server binary, wherever cargo puts its target directory.
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/cg-local"

T0=$(date +%s)
log() { printf '\033[1m==> [%4ss] %s\033[0m\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }

# Installs the Python tools into .venv when missing or when infra/requirements.txt changed.
ensure_venv() {
  local stamp="$VENV/.requirements.sha"
  local want; want="$(sha256sum "$ROOT/infra/requirements.txt" | cut -d' ' -f1)"
  if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing Python tools into .venv (moto, cfn-lint, schemathesis)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/infra/requirements.txt"
    echo "$want" > "$stamp"
  fi
}

# A free TCP port on 127.0.0.1.
free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until something listens on 127.0.0.1:$1 (at most $2 seconds).
wait_port() {
  local port="$1" limit="${2:-60}" i=0
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    i=$((i + 1)); [ "$i" -le $((limit * 5)) ] || { echo "nothing listens on port $port after ${limit}s" >&2; return 1; }
    sleep 0.2
  done
}

# Starts moto server on 127.0.0.1:$1 in the background; its pid goes to MOTO_PID. infra/moto_server.py
# is moto_server with its transaction and Query costs fixed (see the file).
start_moto() {
  local port="$1"
  "$VENV/bin/python" "$ROOT/infra/moto_server.py" -H 127.0.0.1 -p "$port" >"$STATE/moto-$port.log" 2>&1 &
  MOTO_PID=$!
  wait_port "$port" 60
}

# The environment every local process uses to reach the emulator.
export_local_aws() {
  export AWS_ENDPOINT_URL="http://127.0.0.1:$1"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  export AWS_EC2_METADATA_DISABLED=true
}

# The console's browser tests: Debian's chromium (installed only when missing) and playwright-core
# pinned by tests/browser/package-lock.json (`npm ci` again only when the lock file changes).
ensure_browser() {
  if [ ! -x /usr/bin/chromium ]; then
    log "installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  local dir="$ROOT/tests/browser"
  local stamp="$dir/node_modules/.package-lock.sha"
  local want; want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing playwright-core (npm ci in tests/browser)"
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
    echo "$want" > "$stamp"
  fi
}

# Runs the cargo bench target $1 of cg-tests against a fresh moto on a free port, release by default or
# the debug build with `--debug` as $2 (the same request figures, no release build of the SDK); the
# remaining arguments go to the benchmark. Used by infra/bench-{balance,import,search}.sh.
run_cargo_bench() {
  local bench="$1" profile=release
  shift
  if [ "${1:-}" = "--debug" ]; then profile=debug; shift; fi
  ensure_venv
  log "building the $bench benchmark ($profile)"
  if [ "$profile" = release ]; then
    cargo build --quiet --release -p cg-tests --bench "$bench"
  else
    cargo build --quiet -p cg-tests --bench "$bench"
  fi
  MOTO_PORT="$(free_port)"
  log "starting moto on 127.0.0.1:$MOTO_PORT"
  start_moto "$MOTO_PORT"
  trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
  export_local_aws "$MOTO_PORT"
  log "running"
  if [ "$profile" = release ]; then
    cargo bench --quiet -p cg-tests --bench "$bench" -- "$@"
  else
    "$(ls -t "${CARGO_TARGET_DIR:-$ROOT/target}"/debug/deps/"$bench"-* | grep -v '\.d$' | head -1)" "$@"
  fi
}
