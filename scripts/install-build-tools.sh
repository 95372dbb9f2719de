#!/usr/bin/env bash
# Installs the build tools scripts/build.sh needs, without downloading anything outside the
# package registries: the wasm32 target, wasm-bindgen-cli at the exact version of Cargo.lock,
# wasm-opt from npm's `binaryen`, and purger-wasm-split (tools/wasm-split, which cuts the WASM at
# the dashboard's lazy routes). Idempotent and quick when everything is already there.
# (cargo-leptos is not needed; install it yourself for `cargo leptos watch`.)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
tools_dir=${PURGER_TOOLS_DIR:-$HOME/.local/share/purger-tools}
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
export PATH="$cargo_bin:$tools_dir/node_modules/.bin:$PATH"

BINARYEN_VERSION=123.0.0
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/, "", $0); print; exit}' "$here/Cargo.lock")

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

apt_ready=0
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_ready -eq 0 ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_ready=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Builds a crate from a copy of its published source, after pinning one dependency back to a
# version that is served here / builds on this rustc. `cargo install` of the crate itself leaves
# the extracted source in the registry cache even when it fails.
install_from_source() {
  local crate=$1 version=$2 pin_pkg=$3 pin_version=$4; shift 4
  local src
  src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate-$version" 2>/dev/null | head -n 1 || true)
  if [ -z "$src" ]; then
    log "fetching $crate $version source"
    local fetch_dir
    fetch_dir=$(mktemp -d)
    mkdir -p "$fetch_dir/src"
    : >"$fetch_dir/src/lib.rs"
    printf '[package]\nname = "fetch-%s"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\n%s = "=%s"\n' \
      "$crate" "$crate" "$version" >"$fetch_dir/Cargo.toml"
    (cd "$fetch_dir" && cargo fetch -q) || true
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate-$version" 2>/dev/null | head -n 1 || true)
    rm -rf "$fetch_dir"
  fi
  if [ -z "$src" ]; then
    # A binary-only crate is not extracted by `cargo fetch`; `cargo install` extracts it first.
    cargo install --locked "$crate@$version" --root "$(mktemp -d)" "$@" >/dev/null 2>&1 || true
    src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$crate-$version" | head -n 1)
  fi
  local build_dir="$tools_dir/src/$crate-$version"
  rm -rf "$build_dir"
  mkdir -p "$tools_dir/src"
  cp -r "$src" "$build_dir"
  (cd "$build_dir" && cargo update -q -p "$pin_pkg" --precise "$pin_version")
  log "building $crate $version (this takes several minutes the first time)"
  CARGO_TARGET_DIR="$tools_dir/target" cargo install --locked --path "$build_dir" "$@"
}

rustup target list --installed | grep -qx wasm32-unknown-unknown || {
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
}

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WASM_BINDGEN_VERSION"; then
  install_from_source wasm-bindgen-cli "$WASM_BINDGEN_VERSION" webpki-roots 1.0.10
fi

if ! wasm-opt --version 2>/dev/null | grep -q "version ${BINARYEN_VERSION%%.*}"; then
  command -v npm >/dev/null || apt_install nodejs npm
  log "npm install binaryen@$BINARYEN_VERSION"
  mkdir -p "$tools_dir"
  (cd "$tools_dir" && npm install --silent --no-audit --no-fund "binaryen@$BINARYEN_VERSION")
fi

# The version in tools/wasm-split/Cargo.toml says when an installed one is out of date.
SPLIT_VERSION=$(awk -F'"' '/^version = /{print $2; exit}' "$here/tools/wasm-split/Cargo.toml")
if ! purger-wasm-split --version 2>/dev/null | grep -qx "purger-wasm-split $SPLIT_VERSION"; then
  log "building purger-wasm-split (tools/wasm-split; about a minute the first time)"
  CARGO_TARGET_DIR="$tools_dir/target" cargo install --locked --force --path "$here/tools/wasm-split" --quiet
fi

log "build tools ready: $(wasm-bindgen --version), $(wasm-opt --version), $(purger-wasm-split --version)"
