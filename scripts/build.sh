#!/usr/bin/env bash
# Builds Sinyal (Release) into ./build, after installing what a fresh Debian 12 machine lacks.
#   scripts/build.sh            deps + web assets + build
#   SINYAL_SKIP_DEPS=1 ...      skip apt-get (packages already installed)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SINYAL_SKIP_DEPS:-0}" != "1" ]; then
  bash scripts/install-deps.sh
fi
export npm_config_nodedir=/usr   # node-gyp must not download headers (no network but registries)
# web/: npm ci from the committed lock file when it changed, then the dashboard's Vite build into
# web/dist (served by `sinyal serve`) when a source is newer than the last build.
if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  echo "build: installing web packages (npm ci in web/)"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/public web/index.html web/package-lock.json web/vite.config.ts web/tsconfig.json -newer web/dist/index.html -print -quit)" ]; then
  echo "build: building the dashboard (npm run build in web/)"
  (cd web && npm run build --silent)
fi
BUILD_DIR="${SINYAL_BUILD_DIR:-build}"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
# Two cores: -j2. The RESTinio translation unit alone needs ~1 GB of RAM.
ninja -C "$BUILD_DIR" -j "${SINYAL_JOBS:-2}"
