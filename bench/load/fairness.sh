#!/usr/bin/env bash
# Fairness under overload (issue 16): 1,000 closed-loop connections on POST
# /api/v1/business/predict (bench/load/predict.sh) and GET /api/v1/me (bench/load/me.sh), two
# builds side by side, alternating, ROUNDS times. Each run is done twice: "closed" (wrk as usual:
# all connections connect at once and send at once) and "warm" (each connection's first request
# held WARMUP_MS, so the server has accepted every connection before any request is timed), with
# TIMELINE=1 (the server's answer timeline, its accept queue, CPU wait of wrk's and the server's
# threads). The difference between the two rows is what connection set-up costs the tail.
#   bench/load/fairness.sh [duration_seconds]       (default 15)
# Environment: BEFORE (required: the "before" binary, e.g. a build of an older commit), AFTER
# (default build/bin/sinyal),
# ROUNDS (default 2), WRK_THREADS (default 2), TESTS ("predict me", default).
set -euo pipefail
cd "$(dirname "$0")/../.."
DUR="${1:-15}"
BEFORE="${BEFORE:-}"
if [ -z "$BEFORE" ] || [ ! -x "$BEFORE" ]; then
  echo "fairness: set BEFORE to the binary to compare against (e.g. git worktree add ../base <rev>" \
       "&& (cd ../base && bash scripts/build.sh); BEFORE=../base/build/bin/sinyal)" >&2
  exit 2
fi
AFTER="${AFTER:-build/bin/sinyal}"
ROUNDS="${ROUNDS:-2}"
TESTS="${TESTS:-predict me}"
for r in $(seq 1 "$ROUNDS"); do
  for side in before after; do
    if [ "$side" = before ]; then BIN="$BEFORE"; else BIN="$AFTER"; fi
    for t in $TESTS; do
      echo "#### round $r, $side ($BIN), $t; $(date -u +%H:%M:%S) UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
      if [ "$t" = predict ]; then
        SINYAL_BIN="$BIN" MODES="closed warm" CONNS=1000 TIMELINE=1 bash bench/load/predict.sh "$DUR" | grep -v '^setup\|^Server-Timing'
      else
        SINYAL_BIN="$BIN" AUTHS=api_key MODES="closed warm" CONNS=1000 TIMELINE=1 bash bench/load/me.sh "$DUR"
      fi
      echo
    done
  done
done
