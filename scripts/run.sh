#!/usr/bin/env bash
# Builds Purger in release (installing the build tools first when missing) and serves it on
# SQLite under ./data, with the demo (users, a domain, 50 simulated edges). Extra arguments go
# to `purger serve`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything below expects the build in ./target (target/release/purger and target/site).
CARGO_TARGET_DIR="$(pwd)/target" scripts/build.sh
exec target/release/purger serve --demo "$@"
