#!/usr/bin/env bash
# Honest model selection (issue 13, models/selection.h): nested walk-forward over the members'
# hyperparameters and the feature sets, per symbol, reporting the outer-fold result and how much
# the search overfits (inner vs outer log loss). About 130 ensemble trainings per symbol and
# horizon at 5 x 3 folds, 54 at 3 x 2 (1-2 minutes per series on one core here, 2026-12-05, with
# OMP_NUM_THREADS=1); run it under nice.
#
#   scripts/model_search.sh                 # EURUSD GBPUSD USDJPY XAUUSD, horizons 1, 4 and 24
#   scripts/model_search.sh --smoke         # CI: 2 candidates, 20 trees, 2 x 2 folds, newest 6,000 bars
#   SYMBOLS="EURUSD" HORIZONS="1" scripts/model_search.sh
#   OUTER=3 INNER=2 scripts/model_search.sh   # fewer folds (defaults 5 outer x 3 inner)
#
# Writes docs/models/search/<SYMBOL>_h<H>.{json,txt} (the smoke run writes to a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${SINYAL_BUILD_DIR:-build}/src/models/sinyal_model_search"
DATA="${SINYAL_DATA_DIR:-$(cd .. && pwd)/shared/data/market}"
export OMP_WAIT_POLICY=PASSIVE   # XGBoost's OpenMP threads spin otherwise (docs/benchmarks.md)
if [ ! -x "$BIN" ]; then echo "model_search: build $BIN first (ninja -C build sinyal_model_search)" >&2; exit 2; fi
if [ "${1:-}" = "--smoke" ]; then
  if [ ! -f "$DATA/EURUSD_H1.csv" ]; then echo "model_search: no $DATA/EURUSD_H1.csv" >&2; exit 2; fi
  out="$(mktemp -d)"
  "$BIN" --data-dir "$DATA" --symbol EURUSD --last-bars 6000 --grid smoke --outer 2 --inner 2 \
    --out "$out/smoke.json"
  grep -q '"optimism"' "$out/smoke.json"
  rm -rf "$out"
  exit 0
fi
mkdir -p docs/models/search
for h in ${HORIZONS:-1 4 24}; do
  for s in ${SYMBOLS:-EURUSD GBPUSD USDJPY XAUUSD}; do
    echo "== $s h$h"
    nice -n 15 "$BIN" --data-dir "$DATA" --symbol "$s" --horizon "$h" \
      --outer "${OUTER:-5}" --inner "${INNER:-3}" --out "docs/models/search/${s}_h${h}.json" | tee "docs/models/search/${s}_h${h}.txt"
  done
done
# The docs/models.md table from these files.
python3 scripts/models_sections.py search
