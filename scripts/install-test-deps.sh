#!/usr/bin/env bash
# Installs what the tests need beyond the build tools: Debian's Chromium for the end-to-end
# suite, the real edge caches (Varnish with varnish-modules for the xkey vmod, nginx with
# ngx_cache_purge), curl and openssl for the seed scripts, wrk for the bench smoke's ceiling,
# a CJK font (the Chinese screenshots), the end2end npm packages from their lockfile,
# schemathesis (PyPI, in a virtualenv under the tools directory) for the API contract check, and
# cargo-nextest. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }

packages=(chromium fonts-wqy-microhei varnish varnish-modules nginx libnginx-mod-http-cache-purge curl openssl wrk)
missing=()
# Node.js may come from elsewhere (with its own npm); Debian's is enough when there is none.
command -v npm >/dev/null || missing+=(nodejs npm)
# A Python with venv and pip for schemathesis; Debian's when there is none.
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3 python3-venv)
for pkg in "${packages[@]}"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -d end2end/node_modules/@playwright/test ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  log "npm ci (end2end)"
  (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
# The cargo test runner (the test command runs the cargo tests through it).
if ! cargo nextest --version >/dev/null 2>&1; then
  log "cargo install cargo-nextest"
  cargo install --locked cargo-nextest@0.9.143
fi
# The API contract check (scripts/api-contract.sh): schemathesis at a fixed version.
tools=${PURGER_TOOLS_DIR:-$HOME/.local/share/purger-tools}
schemathesis_version=4.32.5
if ! "$tools/schemathesis-venv/bin/st" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  log "pip install schemathesis==$schemathesis_version"
  mkdir -p "$tools"
  rm -rf "$tools/schemathesis-venv"
  python3 -m venv "$tools/schemathesis-venv"
  "$tools/schemathesis-venv/bin/pip" install --quiet --disable-pip-version-check \
    "schemathesis==$schemathesis_version"
fi
