#!/usr/bin/env bash
# One command from a fresh clone to the whole test suite: installs dependencies, starts
# PostgreSQL and Redis, builds, generates the TA-Lib golden fixtures, and runs every test
# (unit, golden, SQLite and PostgreSQL, end-to-end over loopback HTTP) with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
eval "$(bash scripts/services.sh)"
export SINYAL_TEST_PG_URL SINYAL_TEST_PG_SERVER_URL SINYAL_TEST_REDIS_URL
# The full market data set, when ../shared is beside the clone; without it the tests read the
# repository's data/sample and the few that need the full set skip (data/sample/README.md).
if [ -z "${SINYAL_DATA_DIR:-}" ] && [ -d ../shared/data/market ]; then
  export SINYAL_DATA_DIR="$(cd .. && pwd)/shared/data/market"
fi
BUILD_DIR="${SINYAL_BUILD_DIR:-build}"
export SINYAL_BIN="$PWD/$BUILD_DIR/bin/sinyal"
if [ -x scripts/golden.sh ] || [ -f scripts/golden.sh ]; then
  export SINYAL_GOLDEN_DIR="$PWD/$BUILD_DIR/golden"
  bash scripts/golden.sh "$SINYAL_GOLDEN_DIR"
fi
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${SINYAL_TEST_JOBS:-2}" --timeout 600 "$@"
