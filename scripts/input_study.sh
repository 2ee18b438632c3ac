#!/usr/bin/env bash
# Richer inputs (issue 13, deliverable 3): does each input candidate improve the default
# ensemble's walk-forward log loss beyond noise? sinyal_input_study per symbol and horizon; every
# candidate is reported, kept or not (rule in src/signals/tools/input_study.cc, fixed before any
# run). 6 walk-forward runs per symbol and horizon: the 12 runs took 11 minutes on this 2-core
# machine (2026-12-05, OMP_NUM_THREADS=1, a model search running beside it); run under nice.
#
#   scripts/input_study.sh                 # EURUSD GBPUSD USDJPY XAUUSD, horizons 1, 4 and 24
#   scripts/input_study.sh --smoke         # CI: EURUSD h4, two candidates, 2 folds, 10 trees
#   SYMBOLS=EURUSD HORIZONS=1 CANDIDATES=calendar,mtf scripts/input_study.sh
#
# Writes docs/models/inputs/<SYMBOL>_h<H>.{md,json} (the smoke run writes to a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${SINYAL_BUILD_DIR:-build}/src/signals/sinyal_input_study"
DATA="${SINYAL_DATA_DIR:-$(cd .. && pwd)/shared/data/market}"
if [ ! -x "$BIN" ]; then echo "input_study: build $BIN first (ninja -C build sinyal_input_study)" >&2; exit 2; fi
export OMP_WAIT_POLICY=PASSIVE   # XGBoost's OpenMP threads spin otherwise (docs/benchmarks.md)
if [ "${1:-}" = "--smoke" ]; then
  if [ ! -f "$DATA/EURUSD_H1.csv" ]; then echo "input_study: no $DATA/EURUSD_H1.csv" >&2; exit 2; fi
  out="$(mktemp -d)"
  "$BIN" --data-dir "$DATA" --symbol EURUSD --horizon 4 --candidates calendar,volscaled --folds 2 \
    --trees 10 --json "$out/smoke.json" > "$out/smoke.md"
  grep -q '"gain_ci95"' "$out/smoke.json"
  grep -q '| + calendar |' "$out/smoke.md"
  rm -rf "$out"
  exit 0
fi
OUT="${OUT:-docs/models/inputs}"
mkdir -p "$OUT"
for h in ${HORIZONS:-1 4 24}; do
  for s in ${SYMBOLS:-EURUSD GBPUSD USDJPY XAUUSD}; do
    [ -f "$DATA/${s}_H1.csv" ] || { echo "input_study: no $DATA/${s}_H1.csv, skipped" >&2; continue; }
    echo "== $s h$h"
    nice -n 15 "$BIN" --data-dir "$DATA" --symbol "$s" --horizon "$h" \
      --candidates "${CANDIDATES:-volscaled,calendar,mtf,regime,xasset}" \
      --json "$OUT/${s}_h${h}.json" > "$OUT/${s}_h${h}.md"
  done
done
# The docs/models.md section (pooled rule, kept or not, every run's table) from these files.
if [ "$OUT" = docs/models/inputs ]; then python3 scripts/models_sections.py inputs; fi
