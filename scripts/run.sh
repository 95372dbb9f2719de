#!/usr/bin/env bash
# Builds Purger in release (installing the build tools first when missing) and serves it on
# SQLite under ./data, with the demo (users, a domain, 50 simulated edges). Extra arguments go
# to `purger serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-build-tools.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:${PURGER_TOOLS_DIR:-$HOME/.local/share/purger-tools}/node_modules/.bin:$PATH"
# Everything below expects the build in ./target (cargo-leptos output, target/release/purger).
export CARGO_TARGET_DIR="$(pwd)/target"

printf '\033[1;34m==>\033[0m %s\n' "cargo leptos build --release" >&2
cargo leptos build --release
exec target/release/purger serve --demo "$@"
