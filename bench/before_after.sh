#!/bin/bash
# Runs one Google Benchmark of two builds side by side, alternating, so both see the same load:
#   bench/before_after.sh BEFORE_BUILD_DIR AFTER_BUILD_DIR BENCH_BINARY FILTER [ROUNDS]
# e.g. (issue 10, the SignalService::Latest hit; /work/base is a worktree at the "before" commit):
#   bench/before_after.sh /work/base/build build signals_service_bench BM_LatestCacheHit 3
# Each round runs before then after, each with --benchmark_repetitions=3; the load average is
# printed at the start and the end. Data: $SINYAL_DATA_DIR (default ../shared/data/market).
set -euo pipefail
if [ $# -lt 4 ]; then
  sed -n '2,7p' "$0" >&2
  exit 2
fi
before="$1/bench/$3"
after="$2/bench/$3"
filter="$4"
rounds="${5:-3}"
for b in "$before" "$after"; do
  [ -x "$b" ] || { echo "no benchmark binary $b" >&2; exit 2; }
done
export SINYAL_DATA_DIR="${SINYAL_DATA_DIR:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data/market}"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)  cpus: $(nproc)  date: $(date -u +%FT%TZ)"
for r in $(seq 1 "$rounds"); do
  for side in before after; do
    bin="$before"
    [ "$side" = after ] && bin="$after"
    echo "== round $r $side ($bin)"
    "$bin" --benchmark_filter="$filter" --benchmark_repetitions=3 2>&1 | grep -E "^BM_.*(ns|us|ms) " | grep -v "_mean\|_median\|_stddev\|_cv"
  done
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
