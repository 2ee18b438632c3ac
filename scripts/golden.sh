#!/usr/bin/env bash
# Generates the TA-Lib golden fixtures for the indicator tests into <outdir> (a build dir, never
# the repository): installs npm talib 1.1.6 in tests/golden (node_modules is git-ignored; the
# install compiles TA-Lib C from source and needs the Node headers, hence npm_config_nodedir),
# then runs tests/golden/generate.js. Then run the golden tests with
#   SINYAL_GOLDEN_DIR=<outdir> ctest --test-dir <build> -L golden
# Data: $SINYAL_DATA_DIR or ../shared/data/market beside the repository.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: scripts/golden.sh <outdir>" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$1"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$root/tests/golden"
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
if [ ! -f node_modules/talib/build/Release/talib.node ]; then
  npm install --no-audit --no-fund
fi
node generate.js "$out"
