#!/usr/bin/env bash
# Starts the services the tests need and prints how to reach them:
#   - PostgreSQL 15 (Debian cluster 15/main), with role sinyal/sinyal, database sinyal_test and
#     the NOLOGIN app role sinyal_app granted to sinyal (migrations use it for row-level security);
#   - Redis on 127.0.0.1:6379 (no persistence).
# Usage:  eval "$(scripts/services.sh)"     # exports SINYAL_TEST_PG_URL and SINYAL_TEST_REDIS_URL
# Idempotent: safe to run again while everything is up. Needs root (or sudo) on a fresh Debian 12
# machine, where apt installs PostgreSQL and Redis without starting them (PID 1 is not systemd).
# Everything except the export lines goes to stderr.
set -euo pipefail

PG_VERSION="${SINYAL_PG_VERSION:-15}"
PG_CLUSTER="${SINYAL_PG_CLUSTER:-main}"
PG_USER="${SINYAL_PG_USER:-sinyal}"
PG_PASSWORD="${SINYAL_PG_PASSWORD:-sinyal}"
PG_DB="${SINYAL_PG_DB:-sinyal_test}"
APP_ROLE="sinyal_app"
SYSTEM_ROLE="sinyal_system"
# The narrow system paths' roles (src/store/system_path.h): the meter writer, the job queue,
# operator analytics, the invoicing round.
PATH_ROLES="${SYSTEM_ROLE}_meter ${SYSTEM_ROLE}_jobs ${SYSTEM_ROLE}_analytics ${SYSTEM_ROLE}_invoicing"
PATH_ROLES_CSV="${SYSTEM_ROLE}_meter, ${SYSTEM_ROLE}_jobs, ${SYSTEM_ROLE}_analytics, ${SYSTEM_ROLE}_invoicing"
# A login role that owns nothing and is only a member of the app and system roles: how `serve`
# and `worker` connect in a least-privilege deployment (docs/security.md); tests connect as it.
SERVER_USER="${PG_USER}_server"
REDIS_PORT="${SINYAL_REDIS_PORT:-6379}"

log() { echo "services: $*" >&2; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
as_postgres() { $SUDO runuser -u postgres -- "$@"; }

# ---- PostgreSQL ---------------------------------------------------------------------------
if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  log "PostgreSQL is not installed: run scripts/install-deps.sh first"; exit 1
fi
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {f=1} END {exit !f}'; then
  log "creating cluster $PG_VERSION/$PG_CLUSTER"
  $SUDO pg_createcluster "$PG_VERSION" "$PG_CLUSTER" >&2
fi
PG_PORT="$(pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c {print $3}')"
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" '$1==v && $2==c && $4 ~ /online/ {f=1} END {exit !f}'; then
  log "starting PostgreSQL $PG_VERSION/$PG_CLUSTER on port $PG_PORT"
  # pg_ctlcluster exits 2 when the cluster is already running (a race with another run): accept it.
  $SUDO pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start >&2 || {
    rc=$?; [ "$rc" -eq 2 ] || { log "pg_ctlcluster failed ($rc)"; exit "$rc"; }
  }
fi
for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || { log "PostgreSQL did not become ready"; exit 1; }

# Role, app role and database. The app role is pre-created so that the test role needs no
# CREATEROLE; the migrations create it only when missing (and then need CREATEROLE).
as_postgres psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -q >&2 <<SQL
SET client_min_messages = warning;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${PG_USER}') THEN
    CREATE ROLE ${PG_USER} LOGIN PASSWORD '${PG_PASSWORD}';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${APP_ROLE}') THEN
    CREATE ROLE ${APP_ROLE} NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${SYSTEM_ROLE}') THEN
    CREATE ROLE ${SYSTEM_ROLE} NOLOGIN;
  END IF;
$(for r in $PATH_ROLES; do
  echo "  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$r') THEN CREATE ROLE $r NOLOGIN; END IF;"
done)
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${SERVER_USER}') THEN
    CREATE ROLE ${SERVER_USER} LOGIN PASSWORD '${PG_PASSWORD}';
  END IF;
END \$\$;
GRANT ${APP_ROLE} TO ${PG_USER};
GRANT ${SYSTEM_ROLE} TO ${PG_USER};
GRANT ${PATH_ROLES_CSV} TO ${PG_USER};
ALTER ROLE ${SERVER_USER} LOGIN PASSWORD '${PG_PASSWORD}' INHERIT NOSUPERUSER NOCREATEROLE NOCREATEDB NOBYPASSRLS;
GRANT ${APP_ROLE}, ${SYSTEM_ROLE}, ${PATH_ROLES_CSV} TO ${SERVER_USER};
SQL
if ! as_postgres psql -p "$PG_PORT" -tAc "SELECT 1 FROM pg_database WHERE datname='${PG_DB}'" | grep -q 1; then
  log "creating database $PG_DB"
  as_postgres createdb -p "$PG_PORT" -O "$PG_USER" "$PG_DB" >&2
fi
PGPASSWORD="$PG_PASSWORD" psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -tAc "SELECT 1" >/dev/null \
  || { log "cannot connect as $PG_USER to $PG_DB"; exit 1; }
# Each PostgreSQL test process works in a schema of its own, e2e_<start epoch>_<pid>
# (src/core/testing/test_util.cc); drop those of runs that started more than 6 hours ago, one
# schema per transaction (dropping many at once runs out of lock slots: "out of shared memory").
old_schemas="$(as_postgres psql -p "$PG_PORT" -d "$PG_DB" -tA -v ON_ERROR_STOP=1 -c \
  "SELECT nspname FROM pg_namespace WHERE nspname ~ '^e2e_[0-9]+_[0-9]+$'
     AND split_part(nspname, '_', 2)::bigint < extract(epoch FROM now())::bigint - 6 * 3600")"
for s in $old_schemas; do
  as_postgres psql -p "$PG_PORT" -d "$PG_DB" -q -v ON_ERROR_STOP=1 \
    -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS \"$s\" CASCADE" >&2
done
log "PostgreSQL ready on 127.0.0.1:$PG_PORT (db $PG_DB)"

# ---- Redis --------------------------------------------------------------------------------
if command -v redis-server >/dev/null 2>&1; then
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    log "starting redis-server on 127.0.0.1:$REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
      --logfile /tmp/sinyal-redis.log >&2
    for _ in $(seq 1 40); do
      redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
      sleep 0.25
    done
  fi
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 || { log "Redis did not start"; exit 1; }
  log "Redis ready on 127.0.0.1:$REDIS_PORT"
else
  log "redis-server not installed: skipping (run scripts/install-deps.sh)"
fi

echo "export SINYAL_TEST_PG_URL=postgresql://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/${PG_DB}"
echo "export SINYAL_TEST_PG_SERVER_URL=postgresql://${SERVER_USER}:${PG_PASSWORD}@127.0.0.1:${PG_PORT}/${PG_DB}"
echo "export SINYAL_TEST_REDIS_URL=redis://127.0.0.1:${REDIS_PORT}/0"
