#!/usr/bin/env bash
# Finds or starts the PostgreSQL server the tests create their databases on, and prints its URL
# (a user that may create databases; the tests make one database each and drop it afterwards):
#   1. PURGER_TEST_POSTGRES_URL, when set (it must answer, or this fails);
#   2. else a server answering on 127.0.0.1:${PURGER_TEST_POSTGRES_PORT:-5432} as user postgres
#      without a password;
#   3. else a cluster of its own: Debian's postgresql is installed if needed, and a trust-auth
#      cluster is created in ${PURGER_TEST_POSTGRES_DIR:-/var/tmp/purger-test-postgres} and
#      started on 127.0.0.1:55432. `scripts/test-postgres.sh stop` stops it.
# Exits non-zero, saying why, when none can be had: the PostgreSQL tests are never skipped.
set -euo pipefail

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'test-postgres: %s\n' "$*" >&2; exit 1; }

own_dir=${PURGER_TEST_POSTGRES_DIR:-/var/tmp/purger-test-postgres}
own_port=55432
own_url="postgres://postgres@127.0.0.1:$own_port/postgres"

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "needs root to install ${missing[*]}"
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

answers() { psql "$1" -tAc 'SELECT 1' >/dev/null 2>&1; }

server_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_postgres() { runuser -u postgres -- "$@"; }

if [ "${1:-}" = stop ]; then
  bin=$(server_bin)
  if [ -n "$bin" ] && [ -f "$own_dir/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl" -D "$own_dir" -m fast -w stop >/dev/null
  fi
  exit 0
fi

apt_install postgresql-client

if [ -n "${PURGER_TEST_POSTGRES_URL:-}" ]; then
  answers "$PURGER_TEST_POSTGRES_URL" || die "PURGER_TEST_POSTGRES_URL does not answer: $PURGER_TEST_POSTGRES_URL"
  echo "$PURGER_TEST_POSTGRES_URL"
  exit 0
fi

local_url="postgres://postgres@127.0.0.1:${PURGER_TEST_POSTGRES_PORT:-5432}/postgres"
if answers "$local_url"; then
  echo "$local_url"
  exit 0
fi

if ! answers "$own_url"; then
  [ "$(id -u)" -eq 0 ] || die "no PostgreSQL answers at $local_url, and starting one needs root"
  apt_install postgresql
  bin=$(server_bin)
  [ -n "$bin" ] || die "postgresql is installed but no server binaries are in /usr/lib/postgresql"
  if [ ! -f "$own_dir/PG_VERSION" ]; then
    log "creating a PostgreSQL cluster for the tests in $own_dir"
    mkdir -p "$own_dir"
    chown postgres:postgres "$own_dir"
    chmod 700 "$own_dir"
    as_postgres "$bin/initdb" -D "$own_dir" -A trust -U postgres >/dev/null
  fi
  log "starting PostgreSQL on 127.0.0.1:$own_port"
  as_postgres "$bin/pg_ctl" -D "$own_dir" -l "$own_dir/server.log" -w \
    -o "-p $own_port -k $own_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
    start >/dev/null || die "PostgreSQL did not start; see $own_dir/server.log"
  answers "$own_url" || die "PostgreSQL started but does not answer at $own_url"
fi
echo "$own_url"
