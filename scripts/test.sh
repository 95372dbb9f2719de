#!/usr/bin/env bash
# Runs every test of Purger: formatting, lints (server and WASM), every cargo test (with real
# Varnish, nginx and PostgreSQL), and the Playwright suite in headless Debian Chromium against a
# release build. Installs what it needs first (PostgreSQL: see scripts/test-postgres.sh). Exits
# non-zero on any failure.
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
started=$(date +%s)
results=()
failed=0

step() {
  local name=$1; shift
  local t0=$(date +%s)
  printf '\n\033[1;34m==> %s\033[0m\n' "$name"
  if "$@"; then
    results+=("ok      $name ($(( $(date +%s) - t0 ))s)")
  else
    results+=("FAILED  $name ($(( $(date +%s) - t0 ))s)")
    failed=$((failed + 1))
  fi
}

summary() {
  if [ -n "${build_log:-}" ] && [ -s "$build_log" ] && printf '%s\n' "${results[@]}" | grep -q '^FAILED  release build'; then
    # The build's own error comes first in its report; repeat it here, where it is seen.
    printf '\n==== release build error (first lines) ====\n'
    grep -v '^ *Compiling ' "$build_log" | grep -n -i -m 1 -A 25 'error' || tail -n 30 "$build_log"
    df -h "$root" | tail -n 1
  fi
  printf '\n==== summary (%ss) ====\n' "$(( $(date +%s) - started ))"
  printf '%s\n' "${results[@]}"
  local passed=$(( ${#results[@]} - failed ))
  printf '%d passed, %d failed\n' "$passed" "$failed"
}

must() {
  if ! "$@"; then
    results+=("FAILED  setup: $*")
    failed=$((failed + 1))
    summary
    exit 1
  fi
}

must scripts/install-test-deps.sh
# PostgreSQL for the store contract suite and the scale-out tests: found or started, never skipped.
if ! PURGER_TEST_POSTGRES_URL=$(scripts/test-postgres.sh); then
  results+=("FAILED  setup: no PostgreSQL for the tests (see the message above)")
  failed=$((failed + 1))
  summary
  exit 1
fi
export PURGER_TEST_POSTGRES_URL
case "$PURGER_TEST_POSTGRES_URL" in
  *127.0.0.1:55432*) trap 'scripts/test-postgres.sh stop' EXIT ;;
esac
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:${PURGER_TOOLS_DIR:-$HOME/.local/share/purger-tools}/node_modules/.bin:$PATH"
# Everything below expects the build in ./target (target/release/purger and target/site).
export CARGO_TARGET_DIR="$(pwd)/target"

# The release build first: it installs the build tools (the wasm32 target that the wasm32 lint
# needs, wasm-bindgen-cli, wasm-opt) while it compiles, and the smoke runs and the end-to-end
# suite run its binary. A warm build (after ./scripts/run.sh) takes seconds.
build_log=$(mktemp)
release_build() {
  scripts/build.sh 2>&1 | tee "$build_log"
  local status=${PIPESTATUS[0]}
  [ "$status" -eq 0 ] && [ -x target/release/purger ] && [ -f target/site/pkg/purger.wasm ]
}
step "release build (scripts/build.sh)" release_build

step "cargo fmt --check" cargo fmt --all --check
step "clippy (server side)" cargo clippy --locked -p engine -p server -p app -p purger-fuzz --features app/ssr --all-targets -- -D warnings
step "clippy (wasm32 side)" cargo clippy --locked -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings
step "cargo nextest (engine, server, app, fuzz seeds)" cargo nextest run --locked -p engine -p server -p app -p purger-fuzz --features app/ssr --no-fail-fast
# Smoke runs of the long hardening commands (docs/reliability.md has the full runs' figures).
step "load smoke (purger load, 50 clients, 10 s)" target/release/purger load --clients 50 --seconds 10 --min-accepted-per-sec 50
# Every bench figure on a small fleet, wrk included: the command works; the figures are not judged.
bench_smoke() {
  local out
  out=$(target/release/purger bench --seed-runs 10 --fleets 50 --bulk-rounds 1 --bulk-urls 20 \
    --distant-edges 50 --ingest-batches 2 --history-tasks 2000 --single-url-clients 20 \
    --single-url-seconds 2 --postgres-url "$PURGER_TEST_POSTGRES_URL" --json) || return 1
  printf '%s\n' "$out"
  case "$out" in
    *null*|'') echo "bench smoke: a figure is missing" >&2; return 1 ;;
  esac
}
step "bench smoke (purger bench, 50 nginx addresses, 50 distant edges)" bench_smoke
step "API contract (schemathesis: v1 and the seed APIs against their documents)" scripts/api-contract.sh
e2e() { (cd "$root/end2end" && npx playwright test); }
step "playwright end-to-end (headless Chromium)" e2e

summary
[ "$failed" -eq 0 ]
