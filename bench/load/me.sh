#!/usr/bin/env bash
# Load benchmark of GET /api/v1/me with a JWT and with an API key, at 100 and 1,000 concurrent
# connections on loopback, using wrk (Debian package) with bench/load/me.lua. Prints a Markdown table.
#   bench/load/me.sh [duration_seconds]      (default 10)
# Needs a Release build (scripts/build.sh). wrk and the server share the machine's cores, so the
# figures are for this machine with the load generator on it, not the server alone.
# Environment:
#   SINYAL_BIN    the binary (default build/bin/sinyal)
#   AUTHS         "jwt api_key" (default)          CONNS   "100 1000" (default)
#   MODES         "closed" (default; every connection sends as soon as its answer came) and/or
#                 "warm" (the same, each connection's first request held WARMUP_MS, default 3000,
#                 so that connection set-up is not timed; requests/s over the timed DUR only)
#   WRK_THREADS   wrk's threads (default 2)
#   TIMELINE=1    per run, the server's answer timeline, its accept queue and the CPU wait of wrk's
#                 and the server's threads (as bench/load/predict.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR="${1:-10}"
BIN="${SINYAL_BIN:-build/bin/sinyal}"
AUTHS="${AUTHS:-jwt api_key}"
CONNS="${CONNS:-100 1000}"
MODES="${MODES:-closed}"
WRK_THREADS="${WRK_THREADS:-2}"
WARMUP_MS="${WARMUP_MS:-3000}"
TIMELINE="${TIMELINE:-0}"
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)"; exit 1; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DATA=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
SINYAL_FIRST_RUN_ENABLED=false "$BIN" serve --port "$PORT" --data-dir "$DATA" --log-level warn >"$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
BASE="http://127.0.0.1:$PORT"
REG=$(curl -sf -X POST "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
  -d "{\"tenant_name\":\"bench\",\"email\":\"bench-$RANDOM@example.com\",\"password\":\"benchmark password\"}")
JWT=$(echo "$REG" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')
KEY=$(curl -sf -X POST "$BASE/api/v1/api-keys" -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
  -d '{"name":"bench"}' | python3 -c 'import sys,json; print(json.load(sys.stdin)["key"])')

# As bench/load/predict.sh: per-thread CPU and run-queue wait from /proc/PID/task/*/schedstat.
sched_of() {
  local f t run wait
  for f in /proc/"$1"/task/*/schedstat; do
    t=${f%/schedstat}; t=${t##*/}
    read -r run wait _ <"$f" 2>/dev/null || continue
    awk -v t="$t" -v r="$run" -v w="$wait" 'BEGIN { printf "%s=%.2f/%.2f ", t, r / 1e9, w / 1e9 }'
  done 2>/dev/null
}
sched_wait_delta() {
  echo "$1 | $2" | tr ' ' '\n' | awk -F'[=/]' '$0 == "|" { after = 1; next } NF == 3 { if (after) b += $3; else a += $3 } END { printf "%.2f", b - a }'
}
fmt() { python3 -c "v=$1; print(f'{v/1000:.2f}ms' if v < 1e6 else f'{v/1e6:.2f}s')"; }

echo "| auth | mode | connections | requests/s | p50 | p90 | p99 | p99.9 | max | non-2xx | timeouts |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
NOTES=""
for AUTH in $AUTHS; do
  if [ "$AUTH" = jwt ]; then HDR="Authorization: Bearer $JWT"; else HDR="X-API-Key: $KEY"; fi
  for MODE in $MODES; do
    for C in $CONNS; do
      curl -sf "$BASE/api/v1/me" -H "$HDR" >/dev/null || { echo "auth check failed for $AUTH"; exit 1; }
      ENV=(); WDUR="$DUR"; LABEL="$MODE"
      if [ "$MODE" = warm ]; then
        ENV=(SINYAL_WARMUP_MS="$WARMUP_MS" SINYAL_CONNS_PER_THREAD=$((C / WRK_THREADS)))
        WDUR=$(python3 -c "import math; print(math.ceil($DUR + $WARMUP_MS / 1000))")
        LABEL="closed, first request held ${WARMUP_MS} ms"
      fi
      if [ "$TIMELINE" = 1 ]; then
        python3 bench/load/timeline.py "$BASE/metrics" '^sinyal_http_requests_total\{method="GET",route="/api/v1/me",status="200"\}' >"$DATA/timeline.txt" &
        TL_PID=$!
        python3 bench/load/acceptq.py "$PORT" >"$DATA/acceptq.txt" &
        AQ_PID=$!
        SCHED0=$(sched_of "$PID")
      fi
      env "${ENV[@]}" wrk -t"$WRK_THREADS" -c"$C" -d"${WDUR}s" --timeout 5s -s bench/load/me.lua -H "$HDR" "$BASE/api/v1/me" >"$DATA/wrk.txt" &
      WRK_PID=$!
      WRK_SCHED=""
      while kill -0 "$WRK_PID" 2>/dev/null; do
        W=$(sched_of "$WRK_PID"); [ -n "$W" ] && WRK_SCHED="$W"; sleep 0.25
      done
      wait "$WRK_PID"
      LUA=$(grep '^LUA' "$DATA/wrk.txt")
      get() { echo "$LUA" | tr ' ' '\n' | awk -F= -v k="$1" '$1==k {print $2}'; }
      RPS=$(python3 -c "print(f'{$(get requests) / $DUR:.2f}')")
      [ "$MODE" = warm ] || RPS=$(awk '/Requests\/sec/ {print $2}' "$DATA/wrk.txt")
      echo "| $AUTH | $LABEL | $C | $RPS | $(fmt "$(get p50_us)") | $(fmt "$(get p90_us)") | $(fmt "$(get p99_us)") | $(fmt "$(get p999_us)") | $(fmt "$(get max_us)") | $(get non2xx) | $(get timeouts) |"
      if [ "$TIMELINE" = 1 ]; then
        kill -TERM "$TL_PID" "$AQ_PID"; wait "$TL_PID" "$AQ_PID" || true
        NOTES+="$AUTH $LABEL $C: $(cat "$DATA/timeline.txt"); $(cat "$DATA/acceptq.txt")"$'\n'
        NOTES+="$AUTH $LABEL $C: wrk threads (cpu s / waited for a CPU s): $WRK_SCHED; server threads waited for a CPU $(sched_wait_delta "$SCHED0" "$(sched_of "$PID")") s in all"$'\n'
      fi
    done
  done
done
[ -n "$NOTES" ] && { echo; printf '%s' "$NOTES"; }
exit 0
