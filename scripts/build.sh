#!/usr/bin/env bash
# Builds Purger's release layout, the one operators run:
#   target/release/purger        the server (dashboard SSR, APIs, fan-out workers, CLI)
#   target/site/pkg/purger.js    the hydration glue (wasm-bindgen)
#   target/site/pkg/purger.wasm  the dashboard's WASM (wasm-release profile, wasm-opt -Oz)
#   target/site/pkg/purger.css   the stylesheet
# The server and the WASM build run at the same time, each with its own target directory
# (target/ and target/front), so that one's single-threaded phases (linking, LTO) overlap the
# other's compiling; the build tools (scripts/install-build-tools.sh: wasm-bindgen-cli, wasm-opt)
# are installed, when missing, at the same time, since they are needed only after the WASM build.
# cargo-leptos is not needed; `cargo leptos watch` still works for dashboard development.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:${PURGER_TOOLS_DIR:-$HOME/.local/share/purger-tools}/node_modules/.bin:$PATH"

target=${CARGO_TARGET_DIR:-$root/target}
front_target=$target/front
site=$target/site
pkg=$site/pkg
# What Leptos reads at compile time: the hydration script then loads /pkg/purger.js and
# /pkg/purger.wasm (without these it would ask for purger_bg.wasm).
export LEPTOS_OUTPUT_NAME=purger LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg

rustup target list --installed | grep -qx wasm32-unknown-unknown || {
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
}
tools_log=$(mktemp)
server_log=$(mktemp)
front_log=$(mktemp)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -f "$tools_log" "$server_log" "$front_log"' EXIT
scripts/install-build-tools.sh >"$tools_log" 2>&1 &
tools_pid=$!
log "cargo build --release -p server  and  cargo build -p frontend --target wasm32-unknown-unknown (about 12 minutes the first time on 2 cores; logs: $server_log $front_log)"
CARGO_TARGET_DIR=$target cargo build --locked --release -p server --bin purger >"$server_log" 2>&1 &
server_pid=$!
# --emit-relocs: wasm-split needs the linker's relocations to cut the module at the lazy routes.
RUSTFLAGS="${RUSTFLAGS:-} -Clink-args=--emit-relocs" CARGO_TARGET_DIR=$front_target \
  cargo build --locked -p frontend --lib \
  --target wasm32-unknown-unknown --profile wasm-release >"$front_log" 2>&1 &
front_pid=$!

failed=0
wait "$front_pid" || { log "WASM build failed:"; cat "$front_log" >&2; failed=1; }
wait "$tools_pid" || { log "installing the build tools failed:"; cat "$tools_log" >&2; failed=1; }
front_wasm=$front_target/wasm32-unknown-unknown/wasm-release/frontend.wasm
if [ "$failed" -eq 0 ] && [ -f "$pkg/purger.wasm" ] && [ "$pkg/purger.wasm" -nt "$front_wasm" ] \
  && [ "$pkg/purger.css" -nt style/main.css ] && [ "$pkg/purger.wasm" -nt Cargo.lock ]; then
  log "target/site/pkg is up to date"
elif [ "$failed" -eq 0 ]; then
  # The lazy routes split out (purger-wasm-split: the main module, one module per lazily loaded
  # part, their loader and the manifest the server reads for preload links), then bindings for
  # the main module and size optimisation of every module, while the server may still compile.
  staging=$(mktemp -d)
  purger-wasm-split "$front_wasm" "$staging" purger
  # --keep-lld-exports, --no-demangle: the split parts import the main module's functions by
  # their linker names.
  wasm-bindgen --target web --no-typescript --keep-lld-exports --no-demangle --out-dir "$staging" \
    --out-name purger "$staging/purger_split.wasm"
  rm "$staging/purger_split.wasm"
  mv "$staging/purger_bg.wasm" "$staging/purger.wasm"
  # Every module, two at a time; with the features rustc enables by default for wasm32.
  find "$staging" -name '*.wasm' -print0 | xargs -0 -P 2 -I{} wasm-opt -Oz --enable-bulk-memory \
    --enable-mutable-globals --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-reference-types --enable-multivalue -o {} {}
  cp style/main.css "$staging/purger.css"
  mkdir -p "$site"
  rm -rf "$pkg"
  mv "$staging" "$pkg"
  chmod 755 "$pkg"
fi
wait "$server_pid" || { log "server build failed:"; cat "$server_log" >&2; failed=1; }
[ "$failed" -eq 0 ] || exit 1
grep -E '^(warning|error)' "$server_log" "$front_log" >&2 || true
log "built target/release/purger and target/site/pkg ($(du -b "$pkg/purger.wasm" | cut -f1) bytes of main WASM, $(ls "$pkg"/*.wasm | wc -l) modules)"
