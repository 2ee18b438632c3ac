#!/usr/bin/env bash
# Backup and restore, tested for real (docs/operations.md, "Backup and restore"):
#
#   SQLite: a live `sinyal serve` (SQLite, WAL) has a tenant, a trained model and metered calls;
#     1. while a client keeps calling predict (at the Free plan's 1/s), `sqlite3 DB ".backup FILE"` (online backup
#        API) copies the database: the copy passes PRAGMA integrity_check and its ledger holds
#        between the calls counted before and after the copy;
#     2. with the clients stopped, a second copy is restored into a fresh data directory (with
#        the jwt_secret file) and served by a new `sinyal serve`: every table has the live
#        database's row count, the owner signs in with the old password, the old API key works,
#        and GET /api/v1/usage reports exactly the calls the clients saw succeed.
#   PostgreSQL: the same on a cluster of its own (scripts/multinode.sh, 1 server + 1 worker):
#     `pg_dump -Fc` during load (a consistent snapshot), then a quiet dump restored with
#     `pg_restore` into a new database, served and checked the same way. pg_dump runs as the
#     superuser: the tenant tables FORCE row-level security, so the owner role's dump would be
#     refused ("query would be affected by row-level security policy") - docs/operations.md.
#
#   scripts/backup_restore_test.sh [sqlite|postgres|all]      (default all)
# Environment: SINYAL_BIN (default build/bin/sinyal). Exit 77 (ctest: skipped) when sqlite3,
# PostgreSQL's server binaries, nginx or redis-server are missing (the PostgreSQL part uses
# scripts/multinode.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WHICH="${1:-all}"
export SINYAL_BIN="${SINYAL_BIN:-$ROOT/build/bin/sinyal}"
[ -x "$SINYAL_BIN" ] || { echo "no sinyal binary at $SINYAL_BIN" >&2; exit 1; }
log() { echo "backup_restore_test: $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
for tool in python3 curl sqlite3 pg_dump pg_restore psql; do
  command -v "$tool" >/dev/null || { log "SKIP: $tool not installed (scripts/install-deps.sh)"; exit 77; }
done

TMP="$(mktemp -d "${TMPDIR:-/tmp}/sinyal-backup.XXXXXX")"
chmod 0711 "$TMP"
PIDS=()
LOADER=""
cleanup() {
  [ -n "$LOADER" ] && kill "$LOADER" 2>/dev/null || true
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "${MULTINODE_DIR:-}" ] && [ -f "$MULTINODE_DIR/state.env" ]; then
    bash scripts/multinode.sh down >/dev/null 2>&1 || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

json() { python3 -c "import sys,json; d=json.load(sys.stdin); print(d$1)"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() {
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$1/readyz" && return 0; sleep 0.1; done
  fail "server at $1 did not become ready"
}
start_serve() {  # start_serve NAME PORT DATABASE DATA_DIR [extra env words]: runs `sinyal serve`
  local name="$1" port="$2" db="$3" dir="$4"
  shift 4
  mkdir -p "$dir"
  env SINYAL_FIRST_RUN_ENABLED=false OMP_WAIT_POLICY=PASSIVE "$@" "$SINYAL_BIN" serve --port "$port" \
    --database "$db" --data-dir "$dir" --log-level warn >>"$TMP/$name.log" 2>&1 &
  PIDS+=($!)
  wait_ready "http://127.0.0.1:$port"
}

# A tenant with its own series, model (a queued training job) and API key; sets JWT, KEY, SYMBOL,
# EMAIL, PASSWORD.
seed() {
  local url="$1" job st
  EMAIL="backup-$RANDOM@example.com"
  PASSWORD="backup test password"
  JWT=$(curl -sf -X POST "$url/api/v1/auth/register" -H 'Content-Type: application/json' \
    -d "{\"tenant_name\":\"backup\",\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" | json '["access_token"]')
  SYMBOL="BACKUP$((RANDOM % 100))"
  head -n 4001 data/sample/EURUSD_H1.csv >"$TMP/bars.csv"
  curl -sf -X POST "$url/api/v1/market/bars/import?symbol=$SYMBOL&timeframe=H1&timezone=NY%2B7" \
    -H "Authorization: Bearer $JWT" -H 'Content-Type: text/csv' --data-binary "@$TMP/bars.csv" >/dev/null
  job=$(curl -sf -X POST "$url/api/v1/models/train" -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
    -d "{\"symbol\":\"$SYMBOL\",\"timeframe\":\"H1\",\"activate\":true}" | json '["job_id"]')
  for _ in $(seq 1 1500); do
    st=$(curl -sf "$url/api/v1/jobs/$job" -H "Authorization: Bearer $JWT" | json '["status"]')
    [ "$st" = succeeded ] && break
    [ "$st" = failed ] && fail "training failed"
    sleep 0.2
  done
  [ "$st" = succeeded ] || fail "training did not finish"
  KEY=$(curl -sf -X POST "$url/api/v1/api-keys" -H "Authorization: Bearer $JWT" -H 'Content-Type: application/json' \
    -d '{"name":"backup"}' | json '["key"]')
}

# predict URL N: N metered calls (Free plan: 1/s, burst 5 -> paced); prints how many answered 2xx.
predict() {
  local url="$1" n="$2" ok=0 code
  for _ in $(seq 1 "$n"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/api/v1/business/predict" -H "X-API-Key: $KEY" \
      -H 'Content-Type: application/json' \
      -d "{\"symbol\":\"$SYMBOL\",\"timeframe\":\"H1\",\"prediction_type\":\"price_direction\"}")
    [ "$code" = 200 ] && ok=$((ok + 1))
    [ "$code" = 429 ] && sleep 1
  done
  echo "$ok"
}
# A client calling predict until FILE.stop exists; counts its 2xx answers in FILE (one line each).
# (Stopped by a file, not killed, so no answered call goes uncounted.)
loader() {
  local url="$1" file="$2"
  while [ ! -f "$file.stop" ]; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/api/v1/business/predict" -H "X-API-Key: $KEY" \
      -H 'Content-Type: application/json' \
      -d "{\"symbol\":\"$SYMBOL\",\"timeframe\":\"H1\",\"prediction_type\":\"price_direction\"}")
    [ "$code" = 200 ] && echo ok >>"$file"
    sleep 0.2
  done
}

# The restored database, served: the owner signs in, the old key works, usage = the calls seen.
check_served() {
  local url="$1" want="$2" calls
  curl -sf -X POST "$url/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" >/dev/null || fail "the owner cannot sign in on the restored database"
  calls=$(curl -sf "$url/api/v1/usage" -H "X-API-Key: $KEY" | json '["calls"]') \
    || fail "the API key does not work on the restored database"
  [ "$calls" = "$want" ] || fail "restored usage reports $calls calls, the clients saw $want succeed"
  log "  restored and served: sign-in ok, API key ok, usage = $calls calls = what the clients saw"
}

# ---------------------------------------------------------------------------------------------
sqlite_part() {
  log "SQLite: live server, online backup under load, restore, serve"
  local port url db n1 before after inlive incopy tables t a b port2 seen
  port=$(free_port); url="http://127.0.0.1:$port"
  db="$TMP/live/sinyal.db"
  start_serve sqlite-live "$port" "sqlite://$db" "$TMP/live"
  seed "$url"
  n1=$(predict "$url" 8)
  : >"$TMP/sqlite-load.txt"
  loader "$url" "$TMP/sqlite-load.txt" &
  LOADER=$!
  sleep 2
  before=$(sqlite3 "$db" "SELECT COUNT(*) FROM usage_ledger")
  sqlite3 "$db" ".backup '$TMP/online.db'"      # the live server keeps writing meanwhile
  after=$(sqlite3 "$db" "SELECT COUNT(*) FROM usage_ledger")
  sleep 1
  touch "$TMP/sqlite-load.txt.stop"; wait "$LOADER"; LOADER=""
  [ "$(sqlite3 "$TMP/online.db" 'PRAGMA integrity_check')" = ok ] || fail "online backup fails integrity_check"
  incopy=$(sqlite3 "$TMP/online.db" "SELECT COUNT(*) FROM usage_ledger")
  { [ "$incopy" -ge "$before" ] && [ "$incopy" -le "$after" ]; } \
    || fail "online backup holds $incopy ledger rows, not within [$before, $after] counted around it"
  log "  online backup under load: integrity ok, $incopy ledger rows (live: $before before, $after after)"

  # Quiet backup: the server stays up, nobody calls it. Exact comparison, table by table.
  sqlite3 "$db" ".backup '$TMP/quiet.db'"
  tables=$(sqlite3 "$db" "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
  for t in $tables; do
    a=$(sqlite3 "$db" "SELECT COUNT(*) FROM \"$t\""); b=$(sqlite3 "$TMP/quiet.db" "SELECT COUNT(*) FROM \"$t\"")
    [ "$a" = "$b" ] || fail "table $t: $a rows live, $b in the backup"
  done
  log "  quiet backup: all $(echo "$tables" | wc -w) tables have the live row counts (tenants $(sqlite3 "$db" 'SELECT COUNT(*) FROM tenants'), ledger $(sqlite3 "$db" 'SELECT COUNT(*) FROM usage_ledger'))"
  seen=$((n1 + $(wc -l <"$TMP/sqlite-load.txt")))
  # Restore: the database file and the generated JWT secret into a fresh data directory.
  mkdir -p "$TMP/restored"
  cp "$TMP/quiet.db" "$TMP/restored/sinyal.db"
  cp "$TMP/live/jwt_secret" "$TMP/restored/jwt_secret"
  port2=$(free_port)
  start_serve sqlite-restored "$port2" "sqlite://$TMP/restored/sinyal.db" "$TMP/restored"
  check_served "http://127.0.0.1:$port2" "$seen"
}

# ---------------------------------------------------------------------------------------------
postgres_part() {
  log "PostgreSQL: own cluster, pg_dump under load, pg_restore into a new database, serve"
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { log "SKIP: PostgreSQL server binaries not installed"; exit 77; }
  command -v redis-server >/dev/null || { log "SKIP: redis-server not installed"; exit 77; }
  export MULTINODE_DIR="$TMP/multinode"
  # One server, one worker (trains the model), nginx in front (unused here).
  local up
  up=$(SERVERS=1 WORKERS=1 bash scripts/multinode.sh up) || fail "scripts/multinode.sh up failed"
  eval "$up"
  local url="${SINYAL_MULTINODE_SERVERS%% *}" admin="$SINYAL_MULTINODE_ADMIN_URL" src dst n1 before after incopy
  local tables t a b port2 seen restored_url
  src="${admin%/postgres}/sinyal"
  dst="${admin%/postgres}/sinyal_restored"
  seed "$url"
  n1=$(predict "$url" 8)
  : >"$TMP/pg-load.txt"
  loader "$url" "$TMP/pg-load.txt" &
  LOADER=$!
  sleep 2
  before=$(psql "$src" -Atqc "SELECT COUNT(*) FROM usage_ledger")
  pg_dump -Fc -f "$TMP/online.dump" "$src"          # a consistent snapshot; writes go on
  after=$(psql "$src" -Atqc "SELECT COUNT(*) FROM usage_ledger")
  sleep 1
  touch "$TMP/pg-load.txt.stop"; wait "$LOADER"; LOADER=""
  psql "$admin" -q -c "CREATE DATABASE sinyal_online OWNER sinyal"
  pg_restore --exit-on-error -d "${admin%/postgres}/sinyal_online" "$TMP/online.dump"
  incopy=$(psql "${admin%/postgres}/sinyal_online" -Atqc "SELECT COUNT(*) FROM usage_ledger")
  { [ "$incopy" -ge "$before" ] && [ "$incopy" -le "$after" ]; } \
    || fail "online dump holds $incopy ledger rows, not within [$before, $after] counted around it"
  log "  pg_dump under load restored: $incopy ledger rows (live: $before before, $after after)"

  pg_dump -Fc -f "$TMP/quiet.dump" "$src"
  psql "$admin" -q -c "CREATE DATABASE sinyal_restored OWNER sinyal"
  pg_restore --exit-on-error -d "$dst" "$TMP/quiet.dump"
  tables=$(psql "$src" -Atqc "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
  for t in $tables; do
    a=$(psql "$src" -Atqc "SELECT COUNT(*) FROM \"$t\""); b=$(psql "$dst" -Atqc "SELECT COUNT(*) FROM \"$t\"")
    [ "$a" = "$b" ] || fail "table $t: $a rows live, $b restored"
  done
  # Row-level security survives the restore (forced on every tenant table; Migrate checks it too).
  a=$(psql "$dst" -Atqc "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relforcerowsecurity")
  [ "$a" -gt 0 ] || fail "no table with forced row-level security after the restore"
  log "  quiet dump restored: all $(echo "$tables" | wc -w) tables have the live row counts; $a tables with forced RLS"
  seen=$((n1 + $(wc -l <"$TMP/pg-load.txt")))
  port2=$(free_port)
  restored_url="$(echo "$SINYAL_MULTINODE_DB_URL" | sed 's|/sinyal$|/sinyal_restored|')"
  # shellcheck disable=SC1091
  start_serve pg-restored "$port2" "$restored_url" "$TMP/pg-restored" \
    SINYAL_AUTH_JWT_SECRET="$(. "$MULTINODE_DIR/state.env"; echo "$JWT_SECRET")"
  check_served "http://127.0.0.1:$port2" "$seen"
}

case "$WHICH" in
  sqlite) sqlite_part ;;
  postgres) postgres_part ;;
  all) sqlite_part; postgres_part ;;
  *) echo "usage: $0 [sqlite|postgres|all]" >&2; exit 2 ;;
esac
log "PASSED"
