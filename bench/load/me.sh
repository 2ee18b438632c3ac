#!/usr/bin/env bash
# Load benchmark of GET /api/v1/me with a JWT and with an API key, at 100 and 1,000 concurrent
# connections on loopback, using wrk (Debian package). Prints a Markdown table.
#   bench/load/me.sh [duration_seconds]      (default 10)
# Needs a Release build (scripts/build.sh). wrk and the server share the machine's cores, so the
# figures are for this machine with the load generator on it, not the server alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR="${1:-10}"
BIN="${SINYAL_BIN:-build/bin/sinyal}"
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

echo "| auth | connections | requests/s | p50 | p90 | p99 | errors (non-2xx, socket) |"
echo "|---|---|---|---|---|---|---|"
for AUTH in jwt api_key; do
  if [ "$AUTH" = jwt ]; then HDR="Authorization: Bearer $JWT"; else HDR="X-API-Key: $KEY"; fi
  for C in 100 1000; do
    curl -sf "$BASE/api/v1/me" -H "$HDR" >/dev/null || { echo "auth check failed for $AUTH"; exit 1; }
    OUT=$(wrk -t2 -c"$C" -d"${DUR}s" --latency --timeout 5s -H "$HDR" "$BASE/api/v1/me")
    RPS=$(echo "$OUT" | awk '/Requests\/sec/ {print $2}')
    P50=$(echo "$OUT" | awk '$1=="50%" {print $2}')
    P90=$(echo "$OUT" | awk '$1=="90%" {print $2}')
    P99=$(echo "$OUT" | awk '$1=="99%" {print $2}')
    NON2XX=$(echo "$OUT" | awk '/Non-2xx/ {print $NF}')
    SOCK=$(echo "$OUT" | awk '/Socket errors/ {print $0}' | sed 's/.*errors: //')
    echo "| $AUTH | $C | $RPS | $P50 | $P90 | $P99 | ${NON2XX:-0}; ${SOCK:-none} |"
  done
done
