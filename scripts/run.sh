#!/usr/bin/env bash
# One command from a fresh clone to a running Sinyal on the embedded SQLite default:
# installs dependencies, builds, and starts `sinyal serve` on http://127.0.0.1:8080.
# Extra arguments go to `sinyal serve` (e.g. --port 9000, --database postgresql://...).
set -euo pipefail
cd "$(dirname "$0")/.."
SINYAL_WITH_BROWSER=0 bash scripts/build.sh
exec ./build/bin/sinyal serve "$@"
