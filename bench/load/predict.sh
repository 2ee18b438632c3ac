#!/usr/bin/env bash
# Load benchmark of POST /api/v1/business/predict with exact metering on (issue 6), using wrk with
# bench/load/predict.lua, at 100 and 1,000 concurrent connections on loopback.
#   bench/load/predict.sh [duration_seconds]            (default 10)
# Environment:
#   SINYAL_BIN          the binary (default build/bin/sinyal; a Release build)
#   DATABASE            postgresql://... to run on PostgreSQL (default: SQLite in a temp dir)
#   CONNS               connection counts (default "100 1000")
#   MODES               "closed" (every connection sends as fast as answers come), "idem" (closed
#                       loop, a unique Idempotency-Key per request), "paced" (1,000 connections at
#                       RATE requests/s each; see docs/benchmarks.md), "warm" (closed, connection
#                       set-up excluded: WARMUP_MS); default "closed idem paced"
#   RATE                per-connection rate of the paced mode (default 10 -> 10,000/s offered)
#   WRK_THREADS         wrk's threads (default 2)
#   WARMUP_MS           the "warm" mode (closed loop like "closed") holds each connection's first
#                       request this long (default 3000) so that the server has accepted every
#                       connection before any request is timed (predict.lua); requests/s is then
#                       computed over the timed DUR seconds only
#   TIMELINE=1          also sample the server's 2xx counter every 100 ms during each run
#                       (bench/load/timeline.py: longest stretch with no answer, slowest 1-s
#                       window), the server's accept queue (bench/load/acceptq.py: connections
#                       waiting for accept()), and the time wrk's threads and the server's threads
#                       spent runnable but waiting for a CPU (/proc/PID/task/*/schedstat)
# Setup (timed separately, not part of the figures): an operator, a tenant, 8,000 real EURUSD H1
# bars as the tenant's series, the tenant's own model trained on them, an API key, the tenant moved
# to Enterprise (unlimited quota, so the quota is not the limit) and Enterprise's rate limit raised
# to 1e6/s in this throwaway database (an operator edit; the limiter still runs on every request).
# After each run it prints the ledger rows added (read from the database), the 2xx answers the
# server sent (its /metrics counter) and the 2xx answers wrk received, and the server's CPU time
# (user + system, from /proc/PID/stat) per answer. The ledger must equal the
# server's 2xx count exactly; wrk's count is lower by the answers in flight when wrk stopped.
# wrk and the server share the machine's cores: figures are for both on this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR="${1:-10}"
BIN="${SINYAL_BIN:-build/bin/sinyal}"
CONNS="${CONNS:-100 1000}"
MODES="${MODES:-closed idem paced}"
RATE="${RATE:-10}"
WRK_THREADS="${WRK_THREADS:-2}"
WARMUP_MS="${WARMUP_MS:-3000}"
TIMELINE="${TIMELINE:-0}"
DATA_DIR="${SINYAL_DATA_DIR:-../shared/data/market}"
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)"; exit 1; }
# It needs only the first 8,000 EURUSD H1 bars: without the shared set, the repository's sample.
if [ ! -f "$DATA_DIR/EURUSD_H1.csv" ]; then
  echo "market data not found in $DATA_DIR: using the repository's data/sample (figures not comparable with runs on the shared set)"
  DATA_DIR=data/sample
fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TMP=$(mktemp -d)
DB="${DATABASE:-sqlite://$TMP/bench.db}"
PID=""
cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$TMP"; }
trap cleanup EXIT
BASE="http://127.0.0.1:$PORT"
json() { python3 -c "import sys,json; d=json.load(sys.stdin); print(d$1)"; }

start_server() {
  SINYAL_FIRST_RUN_ENABLED=false SINYAL_WORKER_XGBOOST_THREADS=2 "$BIN" serve --port "$PORT" --data-dir "$TMP/var" --database "$DB" \
    --log-level warn >>"$TMP/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 1 200); do curl -sf "$BASE/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "server did not start:"; cat "$TMP/server.log"; exit 1
}
stop_server() { kill -TERM "$PID"; wait "$PID" || true; PID=""; }

# SQL against the bench database (sqlite3 or psql), for the ledger count and the plan edits.
sql() {
  case "$DB" in
    sqlite://*) sqlite3 "${DB#sqlite://}" "$1" ;;
    *) psql "$DB" -Atq -c "$1" ;;
  esac
}

T0=$(date +%s.%N)
OP_EMAIL="bench-op-$RANDOM@example.com"
echo "operator passphrase 1" | "$BIN" admin create-operator --email "$OP_EMAIL" --database "$DB" \
  --data-dir "$TMP/var" --log-level warn >/dev/null
start_server
REG=$(curl -sf -X POST "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
  -d "{\"tenant_name\":\"bench\",\"email\":\"bench-$RANDOM@example.com\",\"password\":\"benchmark password\"}")
JWT=$(echo "$REG" | json '["access_token"]')
TENANT=$(echo "$REG" | json '["user"]["tenant"]["id"]')
SYMBOL="BENCH$(printf '%04d' $((RANDOM % 10000)))"
head -n 8001 "$DATA_DIR/EURUSD_H1.csv" >"$TMP/bars.csv"
curl -sf -X POST "$BASE/api/v1/market/bars/import?symbol=$SYMBOL&timeframe=H1&timezone=NY%2B7" \
  -H "Authorization: Bearer $JWT" -H 'Content-Type: text/csv' --data-binary "@$TMP/bars.csv" >/dev/null
JOB=$(curl -sf -X POST "$BASE/api/v1/models/train" -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
  -d "{\"symbol\":\"$SYMBOL\",\"timeframe\":\"H1\",\"activate\":true}" | json '["job_id"]')
for _ in $(seq 1 600); do
  ST=$(curl -sf "$BASE/api/v1/jobs/$JOB" -H "Authorization: Bearer $JWT" | json '["status"]')
  [ "$ST" = succeeded ] && break
  [ "$ST" = failed ] && { echo "training failed"; exit 1; }
  sleep 0.2
done
KEY=$(curl -sf -X POST "$BASE/api/v1/api-keys" -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
  -d '{"name":"bench"}' | json '["key"]')
# Enterprise, with its rate limit out of the way (throwaway database; see the header).
stop_server
NOW_NS=$(python3 -c 'import time; print(time.time_ns())')
sql "UPDATE plans SET rate_per_second = 1000000, burst = 1000000 WHERE name = 'enterprise'"
sql "UPDATE subscriptions SET plan = 'enterprise', updated_at = $NOW_NS WHERE tenant_id = $TENANT"
sql "INSERT INTO subscription_events (tenant_id, from_plan, to_plan, actor, at) VALUES ($TENANT, 'free', 'enterprise', 'bench', $NOW_NS)"
start_server
BODY="{\"symbol\":\"$SYMBOL\",\"timeframe\":\"H1\",\"prediction_type\":\"price_direction\",\"confidence_threshold\":0.55}"
FIRST=$(curl -s -X POST "$BASE/api/v1/business/predict" -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -d "$BODY")
echo "$FIRST" | grep -q '"prediction"' || { echo "predict failed: $FIRST"; tail -5 "$TMP/server.log"; exit 1; }
SETUP=$(python3 -c "print(round($(date +%s.%N) - $T0, 1))")
echo "setup ${SETUP}s (data, training, plan); first answer: $FIRST"
echo "Server-Timing of one call: $(curl -s -D - -o /dev/null -X POST "$BASE/api/v1/business/predict" -H "X-API-Key: $KEY" \
  -H 'Content-Type: application/json' -d "$BODY" | tr -d '\r' | awk -F': ' 'tolower($1)=="server-timing" {print $2}')"

# The server process's CPU time (user + system, all threads) in clock ticks, from /proc.
TICKS=$(getconf CLK_TCK)
# "tid=cpu_s/wait_s ..." for each thread of a process: CPU time and time spent runnable but waiting
# for a CPU (/proc/PID/task/*/schedstat, nanoseconds).
sched_of() {
  local f t run wait
  for f in /proc/"$1"/task/*/schedstat; do
    t=${f%/schedstat}; t=${t##*/}
    read -r run wait _ <"$f" 2>/dev/null || continue
    awk -v t="$t" -v r="$run" -v w="$wait" 'BEGIN { printf "%s=%.2f/%.2f ", t, r / 1e9, w / 1e9 }'
  done 2>/dev/null
}
# Seconds all threads waited for a CPU between two sched_of readings.
sched_wait_delta() {
  echo "$1 | $2" | tr ' ' '\n' | awk -F'[=/]' '$0 == "|" { after = 1; next } NF == 3 { if (after) b += $3; else a += $3 } END { printf "%.2f", b - a }'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
ledger() { sql "SELECT COUNT(*) FROM usage_ledger WHERE tenant_id = $TENANT"; }
served2xx() {
  curl -sf "$BASE/metrics" | awk '/^sinyal_http_requests_total\{method="POST",route="\/api\/v1\/business\/predict",status="200"\}/ {print $2}' |
    python3 -c 'import sys; v=sys.stdin.read().split(); print(int(float(v[0])) if v else 0)'
}
# Sums and counts of the predict route's stage histograms (sinyal_stage_seconds) as JSON; stage_means
# prints the mean of each stage between two snapshots, in microseconds.
stage_snapshot() {
  curl -sf "$BASE/metrics" | python3 -c '
import sys, re, json, collections
s, c = collections.Counter(), collections.Counter()
for line in sys.stdin:
    m = re.match(r"sinyal_stage_seconds_(sum|count)\{(.*)\} (\S+)", line)
    if not m or "business/predict\"" not in m.group(2): continue
    stage = re.search(r"stage=\"([^\"]+)\"", m.group(2)).group(1)
    (s if m.group(1) == "sum" else c)[stage] += float(m.group(3))
print(json.dumps({"sum": s, "count": c}))'
}
stage_means() {
  python3 -c '
import sys, json
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = []
for k, n in b["count"].items():
    dn = n - a["count"].get(k, 0)
    if dn > 0: out.append((1e6 * (b["sum"][k] - a["sum"].get(k, 0)) / dn, k))
print(", ".join(f"{k} {v:.1f}us" for v, k in sorted(out, reverse=True)) or "none")' "$1" "$2"
}

echo
echo "| mode | connections | requests/s | p50 | p90 | p99 | p99.9 | max | non-2xx | timeouts | ledger rows added | server 2xx | wrk 2xx |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
fmt() { python3 -c "v=$1; print(f'{v/1000:.2f}ms' if v < 1e6 else f'{v/1e6:.2f}s')"; }
for MODE in $MODES; do
  for C in $CONNS; do
    if [ "$MODE" = paced ] && [ "$C" != 1000 ]; then continue; fi
    L0=$(ledger); S0=$(served2xx); G0=$(stage_snapshot); C0=$(cpu_ticks)
    ENV=(SINYAL_KEY="$KEY" SINYAL_SYMBOL="$SYMBOL")
    [ "$MODE" = idem ] && ENV+=(SINYAL_IDEM=1)
    [ "$MODE" = paced ] && ENV+=(SINYAL_RATE="$RATE")
    WDUR="$DUR"
    if [ "$MODE" = warm ]; then
      ENV+=(SINYAL_WARMUP_MS="$WARMUP_MS" SINYAL_CONNS_PER_THREAD=$((C / WRK_THREADS)))
      WDUR=$(python3 -c "import math; print(math.ceil($DUR + $WARMUP_MS / 1000))")
    fi
    if [ "$TIMELINE" = 1 ]; then
      python3 bench/load/timeline.py "$BASE/metrics" \
        '^sinyal_http_requests_total\{method="POST",route="/api/v1/business/predict",status="200"\}' >"$TMP/timeline.txt" &
      TL_PID=$!
      python3 bench/load/acceptq.py "$PORT" >"$TMP/acceptq.txt" &
      AQ_PID=$!
      SCHED0=$(sched_of "$PID")
    fi
    env "${ENV[@]}" wrk -t"$WRK_THREADS" -c"$C" -d"${WDUR}s" --timeout 5s -s bench/load/predict.lua \
      "$BASE/api/v1/business/predict" >"$TMP/wrk.txt" &
    WRK_PID=$!
    WRK_SCHED=""
    while kill -0 "$WRK_PID" 2>/dev/null; do  # keep the last reading before wrk exits
      W=$(sched_of "$WRK_PID"); [ -n "$W" ] && WRK_SCHED="$W"; sleep 0.25
    done
    wait "$WRK_PID"
    OUT=$(cat "$TMP/wrk.txt")
    sleep 0.5  # answers in flight when wrk stopped finish on the server
    if [ "$TIMELINE" = 1 ]; then
      kill -TERM "$TL_PID" "$AQ_PID"; wait "$TL_PID" "$AQ_PID" || true
      echo "$MODE, $C connections: $(cat "$TMP/timeline.txt"); $(cat "$TMP/acceptq.txt")" >>"$TMP/stages.txt"
      echo "wrk threads ($MODE, $C connections), cpu s / waited for a CPU s: $WRK_SCHED" >>"$TMP/stages.txt"
      echo "server ($MODE, $C connections): its threads waited for a CPU $(sched_wait_delta "$SCHED0" "$(sched_of "$PID")") s in all" >>"$TMP/stages.txt"
    fi
    L1=$(ledger); S1=$(served2xx); C1=$(cpu_ticks)
    RPS=$(echo "$OUT" | awk '/Requests\/sec/ {print $2}')
    LUA=$(echo "$OUT" | grep '^LUA')
    get() { echo "$LUA" | tr ' ' '\n' | awk -F= -v k="$1" '$1==k {print $2}'; }
    LABEL="$MODE"; [ "$MODE" = paced ] && LABEL="paced ${RATE}/s per conn"
    if [ "$MODE" = warm ]; then
      RPS=$(python3 -c "print(f'{$(get requests) / $DUR:.2f}')")
      LABEL="closed, first request held ${WARMUP_MS} ms"
    fi
    echo "| $LABEL | $C | $RPS | $(fmt "$(get p50_us)") | $(fmt "$(get p90_us)") | $(fmt "$(get p99_us)") | $(fmt "$(get p999_us)") | $(fmt "$(get max_us)") | $(get non2xx) | $(get timeouts) | $((L1 - L0)) | $((S1 - S0)) | $(get 2xx) |"
    echo "stage means ($LABEL, $C connections): $(stage_means "$G0" "$(stage_snapshot)")" >>"$TMP/stages.txt"
    echo "server CPU ($LABEL, $C connections): $(python3 -c "t=($C1-$C0)/$TICKS; n=$S1-$S0; print(f'{t:.2f} s user+system for {n} answers = {1e6*t/max(n,1):.1f} us per request')")" >>"$TMP/stages.txt"
  done
done
echo
cat "$TMP/stages.txt" 2>/dev/null || true
