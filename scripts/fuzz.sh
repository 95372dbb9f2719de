#!/usr/bin/env bash
# Coverage-guided fuzzing of the engine's parsers with cargo-fuzz (libFuzzer, AddressSanitizer,
# debug assertions and overflow checks on). The targets live in fuzz/fuzz_targets/ and check real
# properties (round trips, normalisation), not only the absence of panics:
#   targets        purge target parsers (engine::target)
#   seed004_auth   seed 004 Authorization/Date headers (engine::seed004)
#   node_lines     node import CSV lines (engine::fleet::NodeLine)
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  fuzzing time of each target (default 600); `scripts/fuzz.sh 20` is the
#                       CI smoke run
#   TARGET...           the targets to run (default: all, as `cargo fuzz list` prints them)
#
# Installs cargo-fuzz if it is missing. cargo-fuzz passes nightly-only flags (-Z sanitizer...);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them, so no nightly toolchain is needed.
# Each target starts from its committed seeds (fuzz/seeds/<target>/), copied into a working
# corpus, fuzz/corpus/<target>/, that grows from run to run (it is gitignored, like the
# instrumented build in target/x86_64-unknown-linux-gnu/, apart from the workspace's own, and the
# crash inputs libFuzzer writes to fuzz/artifacts/<target>/).
#
# Prints one line per target: `fuzz <target>: <N> s, <execs> executions, <crashes> crashes`,
# where crashes counts the inputs this run saved in fuzz/artifacts/<target>/ (crash-, leak-,
# timeout-, oom-; slow-unit- files are not failures). Reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run <target> fuzz/artifacts/<target>/<file>
# Exits non-zero if any target crashed (or could not be built or run).
set -euo pipefail

cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install --locked cargo-fuzz
fi

export RUSTC_BOOTSTRAP=1
# PURGER_FUZZ_PROFILE=dev builds without optimisations: about half the build time, for short
# smoke runs (CI); fuzzing for real wants the default optimised build.
profile_flags=()
[ "${PURGER_FUZZ_PROFILE:-release}" = dev ] && profile_flags=(--dev)

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

# Build first, so that the time of each run below is fuzzing time (the runs find it up to date).
echo "==> building the fuzz targets"
if [ "$#" -gt 0 ]; then
  for target in "${targets[@]}"; do
    cargo fuzz build "${profile_flags[@]}" "$target"
  done
else
  cargo fuzz build "${profile_flags[@]}"
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
summary=()
failed=0

for target in "${targets[@]}"; do
  corpus=fuzz/corpus/$target
  artifacts=fuzz/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  if [ -d "fuzz/seeds/$target" ]; then
    cp -n "fuzz/seeds/$target"/* "$corpus"/ 2>/dev/null || true
  fi
  marker=$logs/$target.start
  touch "$marker"
  log=$logs/$target.log

  echo "==> fuzzing $target for $seconds s"
  started=$(date +%s)
  status=0
  # -max_len: the inputs are text (header, URL or CSV line); 4096 is twice the longest target.
  # -timeout: an input that takes 10 s (a regex blowing up) is a failure too.
  cargo fuzz run "${profile_flags[@]}" "$target" "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 -timeout=10 \
    -print_final_stats=1 2>&1 | tee "$log" || status=${PIPESTATUS[0]}
  elapsed=$(( $(date +%s) - started ))

  executions=$(awk '/stat::number_of_executed_units:/ { n = $2 } END { print n + 0 }' "$log")
  crashes=$(find "$artifacts" -maxdepth 1 -type f -newer "$marker" ! -name 'slow-unit-*' | wc -l)
  line="fuzz $target: $elapsed s, $executions executions, $crashes crashes"
  if [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    line="$line (exit status $status)"
  fi
  summary+=("$line")
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    while IFS= read -r artifact; do
      summary+=("  crash input: $artifact")
    done < <(find "$artifacts" -maxdepth 1 -type f -newer "$marker" ! -name 'slow-unit-*' | sort)
  fi
done

echo
printf '%s\n' "${summary[@]}"
exit "$failed"
