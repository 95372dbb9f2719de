#!/usr/bin/env bash
# Times the edges page's server functions (`admin_fleet`: counts, filter, search, a page of
# 100 rows; `admin_fleet_history`: node health over time) against the release build with the
# demo fleet plus 5 000 imported nodes, one in seven of them failing in the stored health.
# 30 calls each; prints the median, p90 and max. Needs `scripts/build.sh` first, curl, python3,
# strings (binutils) and the sqlite3 command line tool. Uses a fresh data directory and port
# 3517 (PURGER_BENCH_PORT).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PURGER_BENCH_PORT:-3517}
data=$(mktemp -d)
export PURGER_DATA_DIR=$data PURGER_ADDR=127.0.0.1:$port PURGER_LOG__FORMAT=json \
  PURGER_DEMO_ADMIN_PASSWORD=admin-password-1 PURGER_DEMO_PASSWORD=demo-password-1
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; rm -rf "$data"' EXIT
serve() {
  target/release/purger serve "$@" >>"$data/log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return; sleep 0.2; done
  echo "the server did not start: $data/log" >&2
  exit 1
}

serve --demo --demo-edge-port 18900
python3 -c "
for i in range(5000): print(f'10.{i // 62500}.{(i // 250) % 250}.{i % 250 + 1},80')" |
  target/release/purger nodes import - --group big-fleet --protocol nginx >/dev/null
kill $pid; wait $pid 2>/dev/null || true
# Stored health as the fan-out saves it: 64 recent outcomes, all failed for every seventh node.
now=$(($(date +%s) * 1000))
sqlite3 "$data/purger.db" "INSERT OR REPLACE INTO node_health
  (node_id, last_success_at, last_failure_at, last_failure_reason, recent, outcomes, updated_at)
  SELECT id, $now, CASE WHEN id % 7 = 0 THEN $now END, CASE WHEN id % 7 = 0 THEN 'timeout' END,
         64, CASE WHEN id % 7 = 0 THEN -1 ELSE 0 END, $now FROM edge_nodes;"
serve

server_fn() { strings target/site/pkg/purger.wasm | grep -oE "/api/$1[0-9]+" | head -1; }
fleet=$(server_fn admin_fleet)
history=$(server_fn admin_fleet_history)
origin="Origin: http://127.0.0.1:$port"
cookie=$(curl -s -D - -o /dev/null -H "$origin" -H 'Accept: application/json' \
  -d 'username=admin&password=admin-password-1' "http://127.0.0.1:$port$(server_fn sign_in)" |
  grep -i '^set-cookie: purger_session' | sed 's/^[^:]*: //; s/;.*//')
time_calls() { # label, form body, path
  for _ in $(seq 30); do
    curl -s -o /dev/null -w '%{time_total}\n' -X POST -H "$origin" -H "Cookie: $cookie" \
      -d "$2" "http://127.0.0.1:$port$3"
  done | sort -n | awk -v label="$1" '{ms[NR] = $1 * 1000}
    END { printf "%-28s median %5.1f ms  p90 %5.1f ms  max %5.1f ms\n", label, ms[15], ms[27], ms[30] }'
}
time_calls "first page, every state" 'search=&state=&page=0' "$fleet"
time_calls "failing only" 'search=&state=failing&page=0' "$fleet"
time_calls "a search" 'search=10.0.&state=&page=3' "$fleet"
time_calls "the last page" 'search=&state=&page=50' "$fleet"
time_calls "health over time" '' "$history"
