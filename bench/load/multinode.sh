#!/usr/bin/env bash
# Load benchmark of POST /api/v1/business/predict THROUGH NGINX with 1 and with 2 `sinyal serve`
# (issue 16), on PostgreSQL and on SQLite, using scripts/multinode.sh (its own PostgreSQL and Redis
# on free ports, least-privilege roles, deploy/nginx/sinyal.conf) and wrk with
# bench/load/predict.lua. Prints one Markdown table per database.
#   bench/load/multinode.sh [duration_seconds]        (default 15)
# Environment:
#   SINYAL_BIN   the binary (default build/bin/sinyal; Release)
#   DATABASES    "postgresql sqlite" (default). SQLite is for one process (docs/operations.md), so
#                on SQLite only the 1-server rows run.
#   ROUNDS       rounds (default 2). Each round runs, back to back: closed loop through nginx with
#                1 server, then with 2 servers (nginx reloaded with the other upstream list); then
#                paced through nginx (1 and 2 servers) and paced directly to server 1. The 1- and
#                2-server cases alternate, so both see the same machine load.
#   CONNS        closed-loop connection counts (default "100"; e.g. "100 1000")
#   PACED_CONNS  open connections of the paced rows (default 1000; 0: no paced rows), each at RATE requests/s
#   RATE         per-connection rate of the paced rows (default 2 -> ~2,000/s offered, below the
#                capacity through nginx on this machine: see the closed-loop rows)
#   WRK_THREADS  wrk's threads (default 2)
# Set-up (not timed): scripts/multinode.sh up (SERVERS=2 WORKERS=1 on PostgreSQL; 1 server, jobs
# in-process, on SQLite); through nginx an operator, a tenant, 8,000 real EURUSD H1 bars as its
# series, its model trained as a job, an API key; the operator moves the tenant to Enterprise
# (unlimited quota) and raises Enterprise's rate limit to 1e6/s through the operator API (the
# limiter still runs on every request, through Redis).
# Columns: wrk's requests/s and latency percentiles (predict.lua), non-2xx, then exactness: the
# ledger rows the run added (counted in the database) and the 2xx answers the servers sent (sum of
# each server's /metrics counter, read directly); they must be equal. wrk's 2xx is lower by the
# answers in flight when it stopped. `uptime`'s 1-minute load average before each run.
# wrk, nginx, the servers, PostgreSQL and Redis all share this machine's cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
DUR="${1:-15}"
export SINYAL_BIN="${SINYAL_BIN:-$ROOT/build/bin/sinyal}"
DATABASES="${DATABASES:-postgresql sqlite}"
ROUNDS="${ROUNDS:-2}"
CONNS="${CONNS:-100}"
PACED_CONNS="${PACED_CONNS:-1000}"
RATE="${RATE:-2}"
WRK_THREADS="${WRK_THREADS:-2}"
DATA_DIR="${SINYAL_DATA_DIR:-../shared/data/market}"
# Exit 77 (ctest: skipped) without the tools; exit 1 if a row's ledger rows differ from the
# servers' 2xx or any answer was not a 2xx (the ctest smoke run relies on it).
for tool in wrk redis-server psql; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done
[ -x "${NGINX:-/usr/sbin/nginx}" ] || command -v nginx >/dev/null || { echo "SKIP: nginx not installed"; exit 77; }
FAILED=0
if [ ! -f "$DATA_DIR/EURUSD_H1.csv" ]; then
  echo "market data not found in $DATA_DIR: using the repository's data/sample"
  DATA_DIR=data/sample
fi
TMP=$(mktemp -d)
chmod 0711 "$TMP"  # as root, PostgreSQL runs as postgres and must reach $TMP/multinode
export MULTINODE_DIR="$TMP/multinode"
cleanup() {
  [ -f "$MULTINODE_DIR/state.env" ] && bash scripts/multinode.sh down >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT
json() { python3 -c "import sys,json; d=json.load(sys.stdin); print(d$1)"; }
fmt() { python3 -c "v=$1; print(f'{v/1000:.2f}ms' if v < 1e6 else f'{v/1e6:.2f}s')"; }
load1() { awk '{print $1}' /proc/loadavg; }

for DATABASE in $DATABASES; do
  if [ "$DATABASE" = sqlite ]; then SERVERS=1; WORKERS=0; else SERVERS=2; WORKERS=1; fi
  UP=$(DATABASE="$DATABASE" SERVERS="$SERVERS" WORKERS="$WORKERS" bash scripts/multinode.sh up)
  eval "$UP"
  URL="$SINYAL_MULTINODE_URL"
  read -r -a DIRECT <<<"$SINYAL_MULTINODE_SERVERS"
  # SQL on the bench database as its owner (system scope for the RLS-protected ledger).
  sql() {
    if [ "$DATABASE" = sqlite ]; then bash scripts/multinode.sh psql "$1"
    else bash scripts/multinode.sh psql -Atqc "SET app.system = 'on'; $1" | tail -1; fi
  }

  T0=$(date +%s)
  OP_EMAIL="bench-op-$RANDOM@example.com"; OP_PASSWORD="operator passphrase $RANDOM"
  echo "$OP_PASSWORD" | "$SINYAL_BIN" admin create-operator --email "$OP_EMAIL" --database "$SINYAL_MULTINODE_DB_URL" \
    --data-dir "$TMP/cli" --log-level warn >/dev/null
  REG=$(curl -sf -X POST "$URL/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d "{\"tenant_name\":\"bench\",\"email\":\"bench-$RANDOM@example.com\",\"password\":\"benchmark password\"}")
  JWT=$(echo "$REG" | json '["access_token"]')
  TENANT=$(echo "$REG" | json '["user"]["tenant"]["id"]')
  SYMBOL="BENCH$(printf '%04d' $((RANDOM % 10000)))"
  head -n 8001 "$DATA_DIR/EURUSD_H1.csv" >"$TMP/bars.csv"
  curl -sf -X POST "$URL/api/v1/market/bars/import?symbol=$SYMBOL&timeframe=H1&timezone=NY%2B7" \
    -H "Authorization: Bearer $JWT" -H 'Content-Type: text/csv' --data-binary "@$TMP/bars.csv" >/dev/null
  JOB=$(curl -sf -X POST "$URL/api/v1/models/train" -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
    -d "{\"symbol\":\"$SYMBOL\",\"timeframe\":\"H1\",\"activate\":true}" | json '["job_id"]')
  ST=""
  for _ in $(seq 1 1200); do
    ST=$(curl -sf "$URL/api/v1/jobs/$JOB" -H "Authorization: Bearer $JWT" | json '["status"]')
    [ "$ST" = succeeded ] && break
    [ "$ST" = failed ] && { echo "training failed"; exit 1; }
    sleep 0.25
  done
  [ "$ST" = succeeded ] || { echo "training did not finish"; exit 1; }
  KEY=$(curl -sf -X POST "$URL/api/v1/api-keys" -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
    -d '{"name":"bench"}' | json '["key"]')
  OPJWT=$(curl -sf -X POST "$URL/api/v1/operator/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$OP_EMAIL\",\"password\":\"$OP_PASSWORD\"}" | json '["access_token"]')
  curl -sf -X PATCH "$URL/api/v1/operator/plans/enterprise" -H "Authorization: Bearer $OPJWT" -H 'Content-Type: application/json' \
    -d '{"rate_per_second":1000000,"burst":1000000}' >/dev/null
  curl -sf -X PUT "$URL/api/v1/operator/tenants/$TENANT/plan" -H "Authorization: Bearer $OPJWT" \
    -H 'Content-Type: application/json' -d '{"plan":"enterprise"}' >/dev/null
  sleep 6  # plans and subscriptions are cached for 5 s in every server (docs/billing.md)
  BODY="{\"symbol\":\"$SYMBOL\",\"timeframe\":\"H1\",\"prediction_type\":\"price_direction\",\"confidence_threshold\":0.55}"
  for s in "${DIRECT[@]}"; do
    FIRST=$(curl -s -X POST "$s/api/v1/business/predict" -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -d "$BODY")
    echo "$FIRST" | grep -q '"remaining_quota":null' || { echo "predict on $s is not on Enterprise: $FIRST"; exit 1; }
  done
  echo
  echo "### $DATABASE ($SERVERS server(s) started; set-up $(( $(date +%s) - T0 )) s)"
  echo
  echo "| round | load | path | servers | requests/s | p50 | p90 | p99 | p99.9 | max | non-2xx | timeouts | ledger rows added | servers' 2xx | wrk 2xx | load avg |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"

  ledger() { sql "SELECT COUNT(*) FROM usage_ledger WHERE tenant_id = $TENANT"; }
  served2xx() {
    local total=0 s v
    for s in "${DIRECT[@]}"; do
      v=$(curl -sf "$s/metrics" | awk '/^sinyal_http_requests_total\{method="POST",route="\/api\/v1\/business\/predict",status="200"\}/ {print $2}' |
        python3 -c 'import sys; v=sys.stdin.read().split(); print(int(float(v[0])) if v else 0)')
      total=$((total + v))
    done
    echo "$total"
  }
  # run ROUND LOAD PATH SERVERS TARGET_URL CONNECTIONS [RATE]
  run() {
    local round="$1" load="$2" path="$3" n="$4" target="$5" c="$6" rate="${7:-}" la l0 s0 l1 s1 out lua
    la=$(load1)
    l0=$(ledger); s0=$(served2xx)
    local env=(SINYAL_KEY="$KEY" SINYAL_SYMBOL="$SYMBOL")
    [ -n "$rate" ] && env+=(SINYAL_RATE="$rate")
    out=$(env "${env[@]}" wrk -t"$WRK_THREADS" -c"$c" -d"${DUR}s" --timeout 5s -s bench/load/predict.lua "$target/api/v1/business/predict")
    sleep 1  # answers in flight when wrk stopped finish on the servers
    l1=$(ledger); s1=$(served2xx)
    lua=$(echo "$out" | grep '^LUA')
    get() { echo "$lua" | tr ' ' '\n' | awk -F= -v k="$1" '$1==k {print $2}'; }
    echo "| $round | $load | $path | $n | $(echo "$out" | awk '/Requests\/sec/ {print $2}') | $(fmt "$(get p50_us)") | $(fmt "$(get p90_us)") | $(fmt "$(get p99_us)") | $(fmt "$(get p999_us)") | $(fmt "$(get max_us)") | $(get non2xx) | $(get timeouts) | $((l1 - l0)) | $((s1 - s0)) | $(get 2xx) | $la |"
    if [ "$((l1 - l0))" != "$((s1 - s0))" ] || [ "$(get non2xx)" != 0 ] || [ "$((s1 - s0))" -le 0 ]; then
      echo "FAILED: ledger rows $((l1 - l0)), servers' 2xx $((s1 - s0)), non-2xx $(get non2xx)" >&2
      FAILED=1
    fi
  }
  for r in $(seq 1 "$ROUNDS"); do
    for c in $CONNS; do
      for n in $(seq 1 "$SERVERS"); do
        bash scripts/multinode.sh upstream "$n" 2>/dev/null
        run "$r" "closed, $c conns" nginx "$n" "$URL" "$c"
      done
    done
    [ "$PACED_CONNS" -gt 0 ] || continue
    for n in $(seq 1 "$SERVERS"); do
      bash scripts/multinode.sh upstream "$n" 2>/dev/null
      run "$r" "paced ${RATE}/s x $PACED_CONNS conns" nginx "$n" "$URL" "$PACED_CONNS" "$RATE"
    done
    run "$r" "paced ${RATE}/s x $PACED_CONNS conns" "direct" 1 "${DIRECT[0]}" "$PACED_CONNS" "$RATE"
  done
  bash scripts/multinode.sh down 2>/dev/null
done
exit "$FAILED"
