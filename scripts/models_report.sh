#!/usr/bin/env bash
# The per symbol x horizon figures of docs/models.md (issue 13): the default ensemble's
# walk-forward evaluation with skill, calibration, baselines, abstention and conformal coverage,
# from sinyal_horizon_report, for EURUSD GBPUSD USDJPY XAUUSD at horizons 1, 4 and 24 bars.
# Long (12 walk-forward runs, about 1-3 h on this 2-core machine under load).
#
#   scripts/models_report.sh                      # writes docs/models/horizons/<SYM>_h<H>.{md,json}
#   SYMBOLS=EURUSD HORIZONS=24 scripts/models_report.sh
#   DATA_DIR=../shared/data/market/alt_utc TZ_OVERRIDE=UTC OUT=/tmp/alt scripts/models_report.sh
#   scripts/models_report.sh --smoke              # CI: EURUSD h4, 2 folds, 10 trees; and the
#                                                 # conformal study at h4 (a few seconds each)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${SINYAL_BUILD_DIR:-build}/src/signals/sinyal_horizon_report"
STUDY="${SINYAL_BUILD_DIR:-build}/src/signals/sinyal_conformal_study"
DATA="${DATA_DIR:-${SINYAL_DATA_DIR:-$(cd .. && pwd)/shared/data/market}}"
OUT="${OUT:-docs/models/horizons}"
if [ ! -x "$BIN" ]; then echo "models_report: build $BIN first" >&2; exit 2; fi
export OMP_WAIT_POLICY=PASSIVE   # XGBoost's OpenMP threads spin otherwise (docs/benchmarks.md)
if [ "${1:-}" = "--smoke" ]; then
  if [ ! -f "$DATA/EURUSD_H1.csv" ]; then echo "models_report: no $DATA/EURUSD_H1.csv" >&2; exit 2; fi
  tmp="$(mktemp -d)"
  "$BIN" --data-dir "$DATA" --symbol EURUSD --horizon 4 --folds 2 --trees 10 --json "$tmp/h.json" > "$tmp/h.md"
  grep -q '"max_fold_deviation"' "$tmp/h.json"
  grep -q 'skill shown' "$tmp/h.md"
  "$STUDY" --data-dir "$DATA" --symbol EURUSD --horizons 4 --folds 2 > "$tmp/c.md"
  grep -q 'rolling' "$tmp/c.md"
  rm -rf "$tmp"
  exit 0
fi
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
{
  echo "| symbol | h | test rows (n_eff) | accuracy [95% Wilson] | log loss: model / base rate | log-loss gain [95% NW] | Brier gain [95% NW] | skill shown | reliability gap | best naive rule | served, confidence >= 0.55: coverage, accuracy | conformal 80% / 95% (largest fold deviation) |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
} > "$SUMMARY"
for h in ${HORIZONS:-1 4 24}; do
  for s in ${SYMBOLS:-EURUSD GBPUSD USDJPY XAUUSD}; do
    [ -f "$DATA/${s}_H1.csv" ] || { echo "models_report: no $DATA/${s}_H1.csv, skipped" >&2; continue; }
    tz=()
    [ -n "${TZ_OVERRIDE:-}" ] && tz=(--tz "$TZ_OVERRIDE")
    echo "== $s h$h"
    nice -n 15 "$BIN" --data-dir "$DATA" --symbol "$s" --horizon "$h" "${tz[@]}" \
      --json "$OUT/${s}_h${h}.json" --row "$SUMMARY" > "$OUT/${s}_h${h}.md"
  done
done
