#!/usr/bin/env bash
# Runs every test of Purger: formatting, lints (server and WASM), every cargo test (with real
# Varnish, nginx and PostgreSQL), and the Playwright suite in headless Debian Chromium against a
# release build. Installs what it needs first. Exits non-zero on any failure.
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

must scripts/install-build-tools.sh
must scripts/install-test-deps.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:${PURGER_TOOLS_DIR:-$HOME/.local/share/purger-tools}/node_modules/.bin:$PATH"

step "cargo fmt --check" cargo fmt --all --check
step "clippy (server side)" cargo clippy --locked -p engine -p server -p app --features app/ssr --all-targets -- -D warnings
step "clippy (wasm32 side)" cargo clippy --locked -p frontend -p app --features app/hydrate --target wasm32-unknown-unknown -- -D warnings
step "cargo nextest (engine, server, app)" cargo nextest run --locked -p engine -p server -p app --features app/ssr --no-fail-fast
step "release build (cargo leptos build --release)" cargo leptos build --release
e2e() { (cd "$root/end2end" && npx playwright test); }
step "playwright end-to-end (headless Chromium)" e2e

summary
[ "$failed" -eq 0 ]
