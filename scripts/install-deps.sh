#!/usr/bin/env bash
# Installs every build, test and runtime dependency of Sinyal on a fresh Debian 12 machine.
# Idempotent: packages already present are skipped by apt-get. Needs root (or sudo).
# Package list and gotchas: ../shared/notes/stack-check.md.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PKGS=(
  build-essential cmake ninja-build ccache pkg-config ca-certificates git curl
  librestinio-dev libasio-dev libfmt-dev libhttp-parser-dev libpcre2-dev
  libsoci-dev libsqlite3-dev sqlite3 libpq-dev postgresql postgresql-client
  libhiredis-dev redis-server
  libsodium-dev libssl-dev libcurl4-openssl-dev
  libxgboost-dev xgboost libboost-math1.74-dev
  nlohmann-json3-dev libspdlog-dev libcli11-dev libtomlplusplus-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev llvm clang-format
  wrk nodejs npm
  nginx python3
)
if [ "${SINYAL_WITH_BROWSER:-1}" = "1" ]; then PKGS+=(chromium); fi

missing=()
for p in "${PKGS[@]}"; do
  # nodejs may come from NodeSource (which bundles npm): accept any installed nodejs/npm binary.
  if [ "$p" = "npm" ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = "nodejs" ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: all Debian packages present"
fi
