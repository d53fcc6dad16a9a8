#!/usr/bin/env bash
# Builds the Lambda packages (not part of CI): every function of template.yaml for arm64 with
# `cargo lambda build --release --arm64`, then `sam build` (each function's BuildMethod:
# rust-cargolambda, which runs the same cargo lambda build, a no-op by then, and copies its
# bootstrap) and `sam validate --lint`. Prints each stripped bootstrap's size against the 10 MiB
# target and the total time. Installs cargo-lambda, ziglang and aws-sam-cli into the git-ignored
# .venv (infra/requirements-package.txt) and the aarch64 Rust target through rustup.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
started=$(date +%s)
MAX_BYTES=$((10 * 1024 * 1024))

ensure_venv
stamp="$VENV/.package-requirements.sha"
want="$(sha256sum infra/requirements-package.txt | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing cargo-lambda, ziglang and aws-sam-cli into .venv"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r infra/requirements-package.txt
  echo "$want" > "$stamp"
fi
# cargo-lambda links with zig, which it finds as `python3 -m ziglang` in the venv.
export PATH="$VENV/bin:$PATH"
export SAM_CLI_TELEMETRY=0 AWS_REGION="${AWS_REGION:-us-east-1}"
log "rustup target add aarch64-unknown-linux-gnu"
rustup target add aarch64-unknown-linux-gnu

# The functions' binaries, from template.yaml (Metadata.BuildProperties.Binary).
mapfile -t BINARIES < <(sed -n 's/^ *Binary: *//p' template.yaml)
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | "$VENV/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
# Named one by one, as `sam build` names them: the same feature resolution, so its builds are no-ops.
args=()
for b in "${BINARIES[@]}"; do args+=(--bin "$b"); done
log "cargo lambda build --release --arm64 (${#BINARIES[@]} binaries)"
t=$(date +%s)
cargo lambda build --release --arm64 "${args[@]}"
build_seconds=$(( $(date +%s) - t ))

log "sam build"
t=$(date +%s)
SAM_DIR="$STATE/sam-build"
sam build --template-file template.yaml --build-dir "$SAM_DIR" \
  --parameter-overrides JwtIssuer=https://issuer.example.com/ JwtAudience=customer-groups
sam_seconds=$(( $(date +%s) - t ))
log "sam validate --lint"
sam validate --lint --template-file template.yaml

log "bootstraps (stripped, aarch64; target <= 10 MiB each)"
printf '%-32s %12s %9s  %s\n' binary bytes MiB "sam build artifact"
total=0; over=0; unpackaged=0; largest=0; largest_name=""
for b in "${BINARIES[@]}"; do
  f="$TARGET_DIR/lambda/$b/bootstrap"
  [ -f "$f" ] || { echo "missing $f" >&2; exit 1; }
  file "$f" | grep -q 'ARM aarch64' || { echo "$f is not an aarch64 binary: $(file "$f")" >&2; exit 1; }
  file "$f" | grep -q 'stripped' && ! file "$f" | grep -q 'not stripped' || { echo "$f is not stripped" >&2; exit 1; }
  size=$(stat -c %s "$f")
  total=$((total + size))
  [ "$size" -gt "$largest" ] && { largest=$size; largest_name=$b; }
  [ "$size" -gt "$MAX_BYTES" ] && over=$((over + 1))
  # The function whose Binary is $b, and the bootstrap sam build put in its artifact directory.
  fn=$(awk -v b="$b" '/^  [A-Za-z0-9]+:$/ {id=$1} $1=="Binary:" && $2==b {sub(":","",id); print id}' template.yaml)
  artifact="$SAM_DIR/$fn/bootstrap"
  same="MISSING"
  [ -f "$artifact" ] && { cmp -s "$f" "$artifact" && same="$fn/bootstrap (same bytes)" || same="$fn/bootstrap (DIFFERENT)"; }
  printf '%-32s %12d %9.2f  %s\n' "$b" "$size" "$(echo "$size / 1048576" | bc -l)" "$same"
  case "$same" in *"same bytes"*) ;; *) unpackaged=$((unpackaged + 1)) ;; esac
done
printf '%-32s %12d %9.2f\n' "total (${#BINARIES[@]})" "$total" "$(echo "$total / 1048576" | bc -l)"
zip_note=""
if command -v zip >/dev/null; then
  z="$STATE/largest-bootstrap.zip"; rm -f "$z"
  (cd "$TARGET_DIR/lambda/$largest_name" && zip -q -9 "$z" bootstrap)
  zip_note=" ($(stat -c %s "$z") bytes zipped)"
fi
echo "largest: $largest_name, $largest bytes$zip_note"
echo "times: cargo lambda build ${build_seconds}s, sam build ${sam_seconds}s, total $(( $(date +%s) - started ))s"
echo "package check: $over of ${#BINARIES[@]} bootstraps over 10 MiB (target: none), $unpackaged not packaged by sam build as built"
[ "$over" -eq 0 ] && [ "$unpackaged" -eq 0 ]
