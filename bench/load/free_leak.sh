#!/usr/bin/env bash
# How much paid data a Free key gets for nothing (issue 10): for DURATION seconds, a Free tenant's
# API key reads every signal route as fast as the server answers it (GET /api/v1/signals/latest,
# /api/v1/signals, /api/v1/signals/{id} of every id seen; on 429 it waits Retry-After), then the
# script prints how many open (unresolved) directional signals it received, how many signals of
# any kind, how many of those were newer than Free's data delay, and the units the ledger charged.
#   bench/load/free_leak.sh [duration_seconds]          (default 60)
# Environment: SINYAL_BIN (default build/bin/sinyal), SINYAL_DATA_DIR (market data).
# Setup (not timed): 8,000 real EURUSD H1 bars as the tenant's own series and its own model
# trained on them (the tenant stays on Free; only the model's training is its own).
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR="${1:-60}"
BIN="${SINYAL_BIN:-build/bin/sinyal}"
DATA_DIR="${SINYAL_DATA_DIR:-../shared/data/market}"
[ -f "$DATA_DIR/EURUSD_H1.csv" ] || { echo "market data not found in $DATA_DIR (set SINYAL_DATA_DIR)"; exit 1; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TMP=$(mktemp -d)
DB="sqlite://$TMP/leak.db"
PID=""
cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }; rm -rf "$TMP"; }
trap cleanup EXIT
BASE="http://127.0.0.1:$PORT"
json() { python3 -c "import sys,json; d=json.load(sys.stdin); print(d$1)"; }

SINYAL_FIRST_RUN_ENABLED=false SINYAL_WORKER_XGBOOST_THREADS=2 "$BIN" serve --port "$PORT" --data-dir "$TMP/var" \
  --database "$DB" --log-level warn >>"$TMP/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 200); do curl -sf "$BASE/readyz" >/dev/null && break; sleep 0.1; done
REG=$(curl -sf -X POST "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
  -d "{\"tenant_name\":\"leak\",\"email\":\"leak-$RANDOM@example.com\",\"password\":\"benchmark password\"}")
JWT=$(echo "$REG" | json '["access_token"]')
SYMBOL="LEAK$(printf '%04d' $((RANDOM % 10000)))"
head -n 8001 "$DATA_DIR/EURUSD_H1.csv" >"$TMP/bars.csv"
curl -sf -X POST "$BASE/api/v1/market/bars/import?symbol=$SYMBOL&timeframe=H1&timezone=NY%2B7" \
  -H "Authorization: Bearer $JWT" -H 'Content-Type: text/csv' --data-binary "@$TMP/bars.csv" >/dev/null
JOB=$(curl -sf -X POST "$BASE/api/v1/models/train" -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
  -d "{\"symbol\":\"$SYMBOL\",\"timeframe\":\"H1\",\"activate\":true}" | json '["job_id"]')
for _ in $(seq 1 1200); do
  ST=$(curl -sf "$BASE/api/v1/jobs/$JOB" -H "Authorization: Bearer $JWT" | json '["status"]')
  [ "$ST" = succeeded ] && break
  [ "$ST" = failed ] && { echo "training failed"; exit 1; }
  sleep 0.5
done
KEY=$(curl -sf -X POST "$BASE/api/v1/api-keys" -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
  -d '{"name":"leak"}' | json '["key"]')

python3 - "$BASE" "$KEY" "$SYMBOL" "$DUR" <<'EOF'
import json, sys, time, urllib.request, urllib.error
from datetime import datetime, timezone
base, key, symbol, dur = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def get(path):
    req = urllib.request.Request(base + path, headers={"X-API-Key": key})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null"), r.headers
    except urllib.error.HTTPError as e:
        body = e.read()
        try: body = json.loads(body)
        except Exception: body = None
        return e.code, body, e.headers
def t(s): return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
delay = 3600
calls = statuses = 0
status_count, open_directional, signals_seen, newer_than_delay = {}, 0, 0, 0
ids = set()
def count(sig, now):
    global open_directional, signals_seen, newer_than_delay
    signals_seen += 1
    ids.add(sig["id"])
    if not sig.get("resolved") and sig.get("prediction") in ("bullish", "bearish"):
        open_directional += 1
    if t(sig["bar_time"]) + 3600 > now - delay:
        newer_than_delay += 1
end = time.time() + dur
routes = ["/api/v1/signals/latest?symbol=%s&timeframe=H1" % symbol, "/api/v1/signals?limit=500"]
i = 0
while time.time() < end:
    paths = routes + ["/api/v1/signals/" + x for x in sorted(ids)[:5]]
    path = paths[i % len(paths)]; i += 1
    code, body, headers = get(path)
    calls += 1
    status_count[code] = status_count.get(code, 0) + 1
    now = time.time()
    if code == 429:
        time.sleep(min(float(headers.get("Retry-After", "1")), max(0.0, end - time.time())))
        continue
    if code != 200 or not isinstance(body, dict): continue
    if "signals" in body:
        for s in body["signals"]: count(s, now)
    elif "id" in body:
        count(body, now)
code, usage, _ = get("/api/v1/usage")
units = usage.get("used") if isinstance(usage, dict) else None
print(f"{dur:.0f} s, Free key: {calls} calls {dict(sorted(status_count.items()))}; "
      f"signals received {signals_seen} ({len(ids)} distinct), open directional {open_directional}, "
      f"newer than Free's 1 h delay {newer_than_delay}; units metered {units}")
EOF
