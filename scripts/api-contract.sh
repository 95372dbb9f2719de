#!/usr/bin/env bash
# Checks the running server against its own OpenAPI documents with schemathesis (all checks,
# the stateful phase included): v1 at /api/v1/openapi.json with an admin's key, and the seed
# APIs at /api/openapi-legacy.json. Starts target/release/purger on a fresh SQLite data
# directory and a free loopback port, with an admin, two developers (one for each document),
# a domain and an edge group, and the fan-out workers off: schemathesis imports nodes at
# whatever addresses it makes up, and nothing may be sent to them. Where a valid value depends
# on the data (the caller's domain, a group, a user, a callback the server may reach), the run
# gives schemathesis the fixture's values, as test data. Exits non-zero unless schemathesis finds
# no issue in either document.
#   PURGER_ST_MAX_EXAMPLES  examples per operation and phase (default 25)
#   PURGER_ST_SEED          a fixed seed to replay a run (default: a new one, printed)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools=${PURGER_TOOLS_DIR:-$HOME/.local/share/purger-tools}
st=$tools/schemathesis-venv/bin/st
purger=$root/target/release/purger
[ -x "$st" ] || { echo "schemathesis is missing: run scripts/install-test-deps.sh" >&2; exit 1; }
[ -x "$purger" ] || { echo "$purger is missing: run scripts/build.sh" >&2; exit 1; }

data=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PURGER_DATA_DIR=$data PURGER_ADDR=127.0.0.1:$port PURGER_LOG__FORMAT=json
# The contract, not the limits: schemathesis sends hundreds of requests a second.
export PURGER_API__RATE_LIMIT__PER_SECOND=0
# With the workers off no task ends, so a batch read's long poll would wait its whole `wait`.
export PURGER_WORKERS=false PURGER_CALLBACKS__ALLOW_NETWORKS='["127.0.0.0/8"]' PURGER_API__MAX_WAIT_SECS=1

server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$data"
}
trap cleanup EXIT

cli() { "$purger" "$@" >/dev/null || { echo "setup failed: purger $*" >&2; exit 1; }; }
cli migrate
cli user add st-admin --admin
cli user add st-dev --developer
cli user add st-legacy --developer
cli group add st-edges --protocol nginx
# Port 9 (discard) on loopback: nothing listens, every purge fails at once as connect_refused.
printf '127.0.0.1,9\n' | "$purger" nodes import - --group st-edges --protocol nginx >/dev/null
cli domain add st.example.com --user st-admin --user st-dev --user st-legacy --group st-edges
admin_key=$("$purger" key create st-admin --label schemathesis) || exit 1
legacy_key=$("$purger" key create st-legacy --label schemathesis) || exit 1

"$purger" serve >"$data/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.05
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "the server did not start:" >&2; tail -n 20 "$data/server.log" >&2; exit 1; }

examples=${PURGER_ST_MAX_EXAMPLES:-25}
seed_line=
[ -n "${PURGER_ST_SEED:-}" ] && seed_line="seed = $PURGER_ST_SEED"
# v1: an admin's bearer key on every operation.
cat >"$data/v1.toml" <<EOF
$seed_line
[auth.openapi.bearer]
bearer = "\${PURGER_ST_V1_KEY}"

[parameters]
"path.username" = "st-dev"
"path.name" = "st-edges"
"body.domain" = "st.example.com"
"body.urls" = ["http://st.example.com/a.png", "http://st.example.com/b.png"]
"body.groups" = ["st-edges"]
"body.users" = ["st-dev"]
"body.callback_url" = "http://127.0.0.1:9/callback"
EOF
# The seed APIs: the developer's key in the query (seed 000), and the signature hook (seed 004).
cat >"$data/legacy.toml" <<EOF
$seed_line
[auth.openapi.api_key]
api_key = "\${PURGER_ST_LEGACY_KEY}"

[parameters]
"query.uri" = "http://st.example.com/hello.gif"
"query.callback_url" = "http://127.0.0.1:9/callback"

# Every refusal of seed 004 is a 400 with its Code (the seed's table), valid-looking or not.
[[operations]]
include-path-regex = "^/api/content/regular-url/"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "429"]
EOF
export PURGER_ST_V1_KEY=$admin_key PURGER_ST_LEGACY_KEY=$legacy_key
export PURGER_ST_SEED004_USER=st-legacy PURGER_ST_SEED004_KEY=$legacy_key
export SCHEMATHESIS_HOOKS=$root/scripts/schemathesis_hooks.py
failed=0
run_st() {
  local what=$1 config=$2 url=$3
  shift 3
  printf '\n==> schemathesis: %s\n' "$what"
  # From the run's own directory: schemathesis keeps a cache in ./.schemathesis.
  (cd "$data" && "$st" --config-file "$config" --no-color run "$url" --checks all \
    --max-examples "$examples" --workers 1 "$@") || failed=1
}
legacy=http://127.0.0.1:$port/api/openapi-legacy.json
run_st "v1 (admin key)" "$data/v1.toml" "http://127.0.0.1:$port/api/v1/openapi.json"
run_st "seed 000 (a developer's key)" "$data/legacy.toml" "$legacy" --include-path-regex '^/api/(purge|q)$'
# Seed 004 answers a missing or wrong user with 400 UserNameInvalid, as its clients expect: the
# two checks that want 401 for missing or wrong credentials do not apply to it.
run_st "seed 004 (a developer's signature)" "$data/legacy.toml" "$legacy" \
  --include-path-regex '^/api/content/' --exclude-checks ignored_auth,missing_required_header

if grep -q '"level":"ERROR"' "$data/server.log"; then
  echo "the server logged errors during the run:" >&2
  grep '"level":"ERROR"' "$data/server.log" | head -n 20 >&2
  failed=1
fi
exit "$failed"
