#!/usr/bin/env bash
# A multi-node Sinyal on one machine, on loopback, for tests and trials (docs/operations.md):
# its OWN PostgreSQL (initdb + pg_ctl) and its OWN redis-server on free ports (the shared ones on
# 5432/6379 are never touched), SERVERS `sinyal serve` and WORKERS `sinyal worker` on that one
# database and Redis, and Debian's nginx in front running deploy/nginx/sinyal.conf (its upstream
# and listen lines replaced). Everything lives in one directory (MULTINODE_DIR).
#
#   eval "$(scripts/multinode.sh up)"      # prints export lines: MULTINODE_DIR, SINYAL_MULTINODE_URL (nginx),
#                                          # ..._SERVERS, ..._DB_URL (servers' login role sinyal_server, owns nothing),
#                                          # ..._OWNER_URL (owner: migrations), ..._ADMIN_URL (superuser), ..._REDIS_URL
#   scripts/multinode.sh status            # each process, and /readyz of each server and of nginx
#   scripts/multinode.sh down              # stops everything and removes MULTINODE_DIR (KEEP=1 keeps it)
# Fault injection (tests/fault/fault_test.sh):
#   scripts/multinode.sh kill-server N     # SIGKILL server N (1-based)
#   scripts/multinode.sh stop-server N     # SIGTERM server N (it drains) and wait for it to exit
#   scripts/multinode.sh start-server N    # start it again on its port, wait for /readyz
#   scripts/multinode.sh restart-redis     # stop Redis (SHUTDOWN NOSAVE) and start it on its port
#   scripts/multinode.sh restart-postgres  # pg_ctl restart -m fast (open connections are cut)
#   scripts/multinode.sh psql [ARGS]       # psql on the database as the owner role (sqlite3 on SQLite)
#   scripts/multinode.sh upstream N        # nginx sends to servers 1..N only (config rewritten, nginx
#                                          # reloaded; the others keep running, idle); bench/load/multinode.sh
# Environment:
#   MULTINODE_DIR  the directory (up: default a new mktemp -d; other commands: required)
#   SINYAL_BIN     the binary (default build/bin/sinyal)
#   SERVERS        number of `sinyal serve` (default 2);  WORKERS  number of `sinyal worker` (default 2)
#   PG_BIN         PostgreSQL's bin directory (default: the newest /usr/lib/postgresql/*/bin)
#   SERVER_ENV     extra VAR=value words for the servers (e.g. "SINYAL_SERVER_IO_THREADS=2")
#   NGINX_KEEPALIVE  idle upstream connections nginx keeps (default: the site file's `keepalive`)
#   DATABASE       postgresql (default) or sqlite: one SQLite file ($MULTINODE_DIR/sinyal.db, WAL)
#                  and no PostgreSQL. SQLite is for ONE process (docs/operations.md): SERVERS must
#                  be 1, WORKERS defaults to 0 and the server runs the jobs itself (worker.in_process).
# As root, PostgreSQL runs as the `postgres` user (it refuses root; as in scripts/services.sh) and
# nginx's workers as www-data; as any other user everything runs as that user.
# Logs: $MULTINODE_DIR/logs/*.log (PostgreSQL: $MULTINODE_DIR/pg/postgres.log).  Servers log at warn (no access log) unless SINYAL_LOG_LEVEL is set.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
CMD="${1:-}"
shift || true

log() { echo "multinode: $*" >&2; }
die() { log "$*"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
# Waits until URL answers 200 (up to $2 tenths of a second).
wait_http() {
  local url="$1" tries="${2:-300}"
  for _ in $(seq 1 "$tries"); do curl -sf -o /dev/null --max-time 2 "$url" && return 0; sleep 0.1; done
  return 1
}

as_pg() {  # runs a PostgreSQL server command as the user that owns the cluster
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

load_state() {
  [ -n "${MULTINODE_DIR:-}" ] || die "MULTINODE_DIR is not set (use: eval \"\$(scripts/multinode.sh up)\")"
  [ -f "$MULTINODE_DIR/state.env" ] || die "no multinode set-up in $MULTINODE_DIR"
  # shellcheck disable=SC1091
  . "$MULTINODE_DIR/state.env"
}

pidfile() { echo "$MULTINODE_DIR/run/$1.pid"; }
pid_of() { cat "$(pidfile "$1")" 2>/dev/null || true; }

start_postgres() {
  as_pg "$PG_BIN/pg_ctl" -D "$MULTINODE_DIR/pg/data" -l "$MULTINODE_DIR/pg/postgres.log" -w -t 60 \
    -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=200 -c fsync=on" \
    start >/dev/null
}

start_redis() {
  setsid redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --daemonize no --logfile "$MULTINODE_DIR/logs/redis.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$(pidfile redis)"
  for _ in $(seq 1 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.05; done
  die "redis-server did not start (logs/redis.log)"
}

server_port() { eval "echo \$SERVER_PORT_$1"; }

start_server() {
  local i="$1" port
  port="$(server_port "$i")"
  mkdir -p "$MULTINODE_DIR/node$i"
  # shellcheck disable=SC2086
  env SINYAL_AUTH_JWT_SECRET="$JWT_SECRET" SINYAL_WORKER_IN_PROCESS="$IN_PROCESS" SINYAL_FIRST_RUN_ENABLED=false \
    OMP_WAIT_POLICY=PASSIVE $SERVER_ENV \
    setsid "$SINYAL_BIN" serve --host 127.0.0.1 --port "$port" --database "$DB_URL" --redis "$REDIS_URL" \
    --data-dir "$MULTINODE_DIR/node$i" --log-level "${SINYAL_LOG_LEVEL:-warn}" \
    </dev/null >>"$MULTINODE_DIR/logs/server$i.log" 2>&1 &
  echo $! >"$(pidfile "server$i")"
  wait_http "http://127.0.0.1:$port/readyz" 600 || die "server $i did not become ready (logs/server$i.log)"
}

start_worker() {
  local i="$1"
  env SINYAL_AUTH_JWT_SECRET="$JWT_SECRET" OMP_WAIT_POLICY=PASSIVE \
    setsid "$SINYAL_BIN" worker --database "$DB_URL" --data-dir "$MULTINODE_DIR/worker$i" \
    --log-level "${SINYAL_LOG_LEVEL:-warn}" </dev/null >>"$MULTINODE_DIR/logs/worker$i.log" 2>&1 &
  echo $! >"$(pidfile "worker$i")"
}

write_nginx_conf() {
  local n="$MULTINODE_DIR/nginx" upstream="" i
  mkdir -p "$n/tmp"
  for i in $(seq 1 "${UPSTREAM:-$SERVERS}"); do
    upstream+="    server 127.0.0.1:$(server_port "$i") max_fails=1 fail_timeout=5s;\n"
  done
  # deploy/nginx/sinyal.conf with its marked upstream and listen lines replaced, its access log
  # moved here. The test thereby runs the site operators install.
  awk -v up="$upstream" -v listen="    listen 127.0.0.1:$NGINX_PORT;" -v alog="$MULTINODE_DIR/logs/nginx.access.log" \
      -v keepalive="${NGINX_KEEPALIVE:-}" '
    /# BEGIN upstream servers/ { print; printf "%s", up; skip=1; next }
    /# END upstream servers/ { skip=0 }
    /# BEGIN listen/ { print; print listen; skip=1; next }
    /# END listen/ { skip=0 }
    skip { next }
    keepalive != "" && /^    keepalive [0-9]+;/ { print "    keepalive " keepalive ";"; next }
    { sub("/var/log/nginx/sinyal.access.log", alog); print }' "$ROOT/deploy/nginx/sinyal.conf" >"$n/sinyal.conf"
  local user_line=""
  if [ "$(id -u)" -eq 0 ]; then
    user_line="user www-data www-data;"
    chown -R www-data:www-data "$n/tmp"
  fi
  # Each proxied connection takes two descriptors: size to what this user may open.
  local nofile
  nofile="$(ulimit -Hn)"
  [ "$nofile" = unlimited ] && nofile=65536
  [ "$nofile" -gt 65536 ] && nofile=65536
  cat >"$n/nginx.conf" <<EOF
# Generated by scripts/multinode.sh
$user_line
daemon off;
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $n/nginx.pid;
error_log $MULTINODE_DIR/logs/nginx.error.log warn;
events { worker_connections $((nofile / 2)); }
http {
    default_type application/octet-stream;
    client_body_temp_path $n/tmp/body;
    proxy_temp_path $n/tmp/proxy;
    fastcgi_temp_path $n/tmp/fastcgi;
    uwsgi_temp_path $n/tmp/uwsgi;
    scgi_temp_path $n/tmp/scgi;
    include $n/sinyal.conf;
}
EOF
}

start_nginx() {
  local n="$MULTINODE_DIR/nginx"
  "$NGINX" -t -q -p "$n" -e "$MULTINODE_DIR/logs/nginx.error.log" -c "$n/nginx.conf" \
    || die "nginx configuration test failed"
  setsid "$NGINX" -p "$n" -e "$MULTINODE_DIR/logs/nginx.error.log" -c "$n/nginx.conf" </dev/null \
    >>"$MULTINODE_DIR/logs/nginx.log" 2>&1 &
  echo $! >"$(pidfile nginx)"
  wait_http "http://127.0.0.1:$NGINX_PORT/readyz" 100 || die "nginx did not answer (logs/nginx.error.log)"
}

stop_pid() {  # stop_pid NAME SIGNAL: signal the process and wait up to 15 s for it to exit
  local name="$1" sig="$2" pid
  pid="$(pid_of "$name")"
  alive "$pid" || return 0
  kill "-$sig" "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do alive "$pid" || return 0; sleep 0.1; done
  log "$name (pid $pid) did not stop on SIG$sig: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

cmd_up() {
  SINYAL_BIN="${SINYAL_BIN:-$ROOT/build/bin/sinyal}"
  [ -x "$SINYAL_BIN" ] || die "no sinyal binary at $SINYAL_BIN (build it, or set SINYAL_BIN)"
  SINYAL_BIN="$(cd "$(dirname "$SINYAL_BIN")" && pwd)/$(basename "$SINYAL_BIN")"
  NGINX="${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
  [ -x "$NGINX" ] || die "nginx not installed (scripts/install-deps.sh)"
  command -v redis-server >/dev/null || die "redis-server not installed (scripts/install-deps.sh)"
  PG_BIN="${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
  [ "${DATABASE:-postgresql}" = sqlite ] || [ -x "$PG_BIN/initdb" ] \
    || die "PostgreSQL server binaries not found (PG_BIN; scripts/install-deps.sh)"
  DATABASE="${DATABASE:-postgresql}"
  case "$DATABASE" in
    postgresql) SERVERS="${SERVERS:-2}"; WORKERS="${WORKERS:-2}"; IN_PROCESS=false ;;
    sqlite)
      SERVERS="${SERVERS:-1}"; WORKERS="${WORKERS:-0}"; IN_PROCESS=true
      [ "$SERVERS" = 1 ] && [ "$WORKERS" = 0 ] \
        || die "DATABASE=sqlite runs one process (SERVERS=1 WORKERS=0): SQLite is for one process (docs/operations.md)" ;;
    *) die "DATABASE must be postgresql or sqlite" ;;
  esac
  MULTINODE_DIR="${MULTINODE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/sinyal-multinode.XXXXXX")}"
  mkdir -p "$MULTINODE_DIR"/{logs,run,pg}
  MULTINODE_DIR="$(cd "$MULTINODE_DIR" && pwd)"
  [ -f "$MULTINODE_DIR/state.env" ] && die "$MULTINODE_DIR already holds a set-up (down it first)"
  # PostgreSQL (as postgres when root) and nginx's workers must reach their directories.
  chmod 0711 "$MULTINODE_DIR"
  if [ "$(id -u)" -eq 0 ] && ! runuser -u postgres -- test -x "$MULTINODE_DIR"; then
    die "user postgres cannot reach $MULTINODE_DIR: every parent directory needs o+x (chmod 0711)"
  fi

  PG_PORT="$(free_port)"; REDIS_PORT="$(free_port)"; NGINX_PORT="$(free_port)"
  local pg_password jwt i
  pg_password="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  JWT_SECRET="$(head -c 36 /dev/urandom | base64 | tr -d '/+=')"
  # Least privilege (docs/security.md): the owner role `sinyal` runs the migrations; servers and
  # workers log in as `sinyal_server`, which owns nothing and is only a member of sinyal_app and
  # sinyal_system.
  OWNER_URL="postgresql://sinyal:$pg_password@127.0.0.1:$PG_PORT/sinyal"
  DB_URL="postgresql://sinyal_server:$pg_password@127.0.0.1:$PG_PORT/sinyal"
  if [ "$DATABASE" = sqlite ]; then
    OWNER_URL="sqlite://$MULTINODE_DIR/sinyal.db"
    DB_URL="$OWNER_URL"
  fi
  REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
  SERVER_ENV="${SERVER_ENV:-}"
  {
    echo "SINYAL_BIN='$SINYAL_BIN'"; echo "NGINX='$NGINX'"; echo "PG_BIN='$PG_BIN'"
    echo "SERVERS=$SERVERS"; echo "WORKERS=$WORKERS"; echo "DATABASE=$DATABASE"; echo "IN_PROCESS=$IN_PROCESS"
    echo "PG_PORT=$PG_PORT"; echo "REDIS_PORT=$REDIS_PORT"; echo "NGINX_PORT=$NGINX_PORT"
    echo "DB_URL='$DB_URL'"; echo "OWNER_URL='$OWNER_URL'"; echo "REDIS_URL='$REDIS_URL'"; echo "JWT_SECRET='$JWT_SECRET'"
    echo "SERVER_ENV='$SERVER_ENV'"; echo "NGINX_KEEPALIVE='${NGINX_KEEPALIVE:-}'"
    for i in $(seq 1 "$SERVERS"); do echo "SERVER_PORT_$i=$(free_port)"; done
  } >"$MULTINODE_DIR/state.env.tmp"
  chmod 0600 "$MULTINODE_DIR/state.env.tmp"
  mv "$MULTINODE_DIR/state.env.tmp" "$MULTINODE_DIR/state.env"
  load_state
  # From here on a failure tears everything down again.
  trap 'log "up failed: tearing down (logs kept in $MULTINODE_DIR/logs)"; KEEP=1 cmd_down >/dev/null 2>&1 || true' ERR

  # ---- PostgreSQL: a cluster of our own, password authentication on 127.0.0.1 ----
  if [ "$DATABASE" = postgresql ]; then
  log "PostgreSQL on 127.0.0.1:$PG_PORT ($PG_BIN)"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$MULTINODE_DIR/pg"; fi
  as_pg bash -c "umask 077; echo '$pg_password' >'$MULTINODE_DIR/pg/superuser.pw'"
  as_pg "$PG_BIN/initdb" -D "$MULTINODE_DIR/pg/data" -U postgres --pwfile="$MULTINODE_DIR/pg/superuser.pw" \
    --auth-host=scram-sha-256 --auth-local=reject -E UTF8 --locale=C.UTF-8 >"$MULTINODE_DIR/logs/initdb.log" 2>&1 \
    || die "initdb failed (logs/initdb.log)"
  start_postgres
  # The owner role owns the database; the NOLOGIN roles sinyal_app (tenant scope) and
  # sinyal_system (system scope) and the narrow system paths' roles (src/store/system_path.h) are
  # pre-created and granted to it and to the servers' login role.
  PGPASSWORD="$pg_password" psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
SET client_min_messages = warning;
CREATE ROLE sinyal LOGIN PASSWORD '$pg_password';
CREATE ROLE sinyal_app NOLOGIN;
CREATE ROLE sinyal_system NOLOGIN;
CREATE ROLE sinyal_system_meter NOLOGIN;
CREATE ROLE sinyal_system_jobs NOLOGIN;
CREATE ROLE sinyal_system_analytics NOLOGIN;
CREATE ROLE sinyal_system_invoicing NOLOGIN;
GRANT sinyal_app, sinyal_system, sinyal_system_meter, sinyal_system_jobs, sinyal_system_analytics, sinyal_system_invoicing TO sinyal;
CREATE ROLE sinyal_server LOGIN PASSWORD '$pg_password';
GRANT sinyal_app, sinyal_system, sinyal_system_meter, sinyal_system_jobs, sinyal_system_analytics, sinyal_system_invoicing TO sinyal_server;
CREATE DATABASE sinyal OWNER sinyal;
SQL
  else
    log "SQLite: $MULTINODE_DIR/sinyal.db (one server, jobs run in the server)"
  fi

  # ---- Redis ----
  log "Redis on 127.0.0.1:$REDIS_PORT"
  start_redis

  # ---- schema, then servers and workers ----
  "$SINYAL_BIN" migrate --database "$OWNER_URL" --data-dir "$MULTINODE_DIR/node1" --log-level warn \
    >>"$MULTINODE_DIR/logs/migrate.log" 2>&1 || die "sinyal migrate failed (logs/migrate.log)"
  for i in $(seq 1 "$SERVERS"); do
    log "sinyal serve $i on 127.0.0.1:$(server_port "$i")"
    start_server "$i"
  done
  for i in $(seq 1 "$WORKERS"); do start_worker "$i"; done
  log "$WORKERS sinyal worker(s)"

  # ---- nginx ----
  write_nginx_conf
  start_nginx
  trap - ERR
  log "nginx on http://127.0.0.1:$NGINX_PORT (logs in $MULTINODE_DIR/logs)"
  echo "export MULTINODE_DIR=$MULTINODE_DIR"
  echo "export SINYAL_MULTINODE_URL=http://127.0.0.1:$NGINX_PORT"
  echo "export SINYAL_MULTINODE_DB_URL='$DB_URL'"
  echo "export SINYAL_MULTINODE_OWNER_URL='$OWNER_URL'"
  echo "export SINYAL_MULTINODE_ADMIN_URL='postgresql://postgres:$pg_password@127.0.0.1:$PG_PORT/postgres'"
  echo "export SINYAL_MULTINODE_REDIS_URL=$REDIS_URL"
  echo "export SINYAL_MULTINODE_SERVERS='$(for i in $(seq 1 "$SERVERS"); do printf 'http://127.0.0.1:%s ' "$(server_port "$i")"; done | sed 's/ $//')'"
}

cmd_down() {
  load_state
  local i
  stop_pid nginx QUIT
  for i in $(seq 1 "$SERVERS"); do stop_pid "server$i" TERM; done
  for i in $(seq 1 "$WORKERS"); do stop_pid "worker$i" TERM; done
  redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  stop_pid redis TERM
  if [ "${DATABASE:-postgresql}" = postgresql ] && [ -f "$MULTINODE_DIR/pg/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$MULTINODE_DIR/pg/data" -m fast -w -t 60 stop >/dev/null 2>&1 || true
  fi
  if [ "${KEEP:-0}" = 1 ]; then
    log "stopped; kept $MULTINODE_DIR"
  else
    rm -rf "$MULTINODE_DIR"
    log "stopped and removed $MULTINODE_DIR"
  fi
}

cmd_status() {
  load_state
  local i name pid port bad=0
  for name in nginx redis $(for i in $(seq 1 "$SERVERS"); do echo "server$i"; done) \
              $(for i in $(seq 1 "$WORKERS"); do echo "worker$i"; done); do
    pid="$(pid_of "$name")"
    if alive "$pid"; then echo "$name: running (pid $pid)"; else echo "$name: NOT running"; bad=1; fi
  done
  if [ "${DATABASE:-postgresql}" = sqlite ]; then
    echo "database: SQLite $MULTINODE_DIR/sinyal.db"
  elif as_pg "$PG_BIN/pg_ctl" -D "$MULTINODE_DIR/pg/data" status >/dev/null 2>&1; then
    echo "postgres: running (127.0.0.1:$PG_PORT)"
  else
    echo "postgres: NOT running"; bad=1
  fi
  for i in $(seq 1 "$SERVERS"); do
    port="$(server_port "$i")"
    echo "server$i http://127.0.0.1:$port/readyz: $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/readyz")"
  done
  echo "nginx http://127.0.0.1:$NGINX_PORT/readyz: $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$NGINX_PORT/readyz")"
  return "$bad"
}

case "$CMD" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  kill-server)
    load_state; n="${1:?server number}"; pid="$(pid_of "server$n")"
    alive "$pid" || die "server $n is not running"
    kill -KILL "$pid"; while alive "$pid"; do sleep 0.02; done
    log "server $n (pid $pid) killed with SIGKILL" ;;
  stop-server)
    load_state; n="${1:?server number}"
    stop_pid "server$n" TERM; log "server $n stopped (SIGTERM)" ;;
  start-server)
    load_state; n="${1:?server number}"
    alive "$(pid_of "server$n")" && die "server $n is already running"
    start_server "$n"; log "server $n ready again on port $(server_port "$n")" ;;
  restart-redis)
    load_state
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    stop_pid redis TERM
    sleep "${DOWN_SECONDS:-0}"
    start_redis; log "Redis restarted" ;;
  restart-postgres)
    load_state
    [ "${DATABASE:-postgresql}" = postgresql ] || die "no PostgreSQL in this set-up (DATABASE=$DATABASE)"
    as_pg "$PG_BIN/pg_ctl" -D "$MULTINODE_DIR/pg/data" -m fast -w -t 60 stop >/dev/null
    sleep "${DOWN_SECONDS:-0}"
    start_postgres; log "PostgreSQL restarted" ;;
  psql)
    load_state
    if [ "${DATABASE:-postgresql}" = sqlite ]; then exec sqlite3 "${OWNER_URL#sqlite://}" "$@"; fi
    exec psql "$OWNER_URL" "$@" ;;
  upstream)
    load_state; n="${1:?number of servers}"
    [ "$n" -ge 1 ] && [ "$n" -le "$SERVERS" ] || die "upstream: 1..$SERVERS servers"
    UPSTREAM="$n" write_nginx_conf
    "$NGINX" -t -q -p "$MULTINODE_DIR/nginx" -e "$MULTINODE_DIR/logs/nginx.error.log" -c "$MULTINODE_DIR/nginx/nginx.conf" \
      || die "nginx configuration test failed"
    kill -HUP "$(pid_of nginx)"
    # The reload is done when no worker of the old generation is left (their parent is nginx).
    for _ in $(seq 1 100); do
      [ "$(pgrep -P "$(pid_of nginx)" | wc -l)" -le 1 ] && break; sleep 0.1
    done
    sleep 0.3
    log "nginx now sends to server(s) 1..$n" ;;
  *)
    sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
