#!/usr/bin/env bash
# Runs FinFlow distributed on this machine, everything on 127.0.0.1: a PostgreSQL cluster, the tansu Kafka broker,
# Redis (Debian's redis-server, installed when missing and run as root), and every service as its own process.
#   scripts/distributed.sh start [--release]   build, start everything, print where each service listens
#   scripts/distributed.sh stop                stop everything it started (the data goes with PostgreSQL's)
#   scripts/distributed.sh status              what runs
# State (logs, process ids, the cluster) lives in .finflow-distributed/. Ports: PostgreSQL 55432, Kafka 59092,
# Redis 56379, and the services' ports below.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
state="$root/.finflow-distributed"
services=(auth:3001 transactions:3002 tenancy:3003 accounting:3004 payments:3005 credit:3006 insights:3007 compliance:3008 tax:3009 integrations:3010 analytics:3011 realtime:3012 performance:3013)
pg_port=55432 kafka_port=59092 redis_port=56379
database_url="postgres://finflow_app@127.0.0.1:$pg_port/finflow"

pg_bin=""
for candidate in /usr/lib/postgresql/*/bin; do [ -x "$candidate/initdb" ] && pg_bin="$candidate"; done
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
alive() { [ -f "$state/$1.pid" ] && kill -0 "$(cat "$state/$1.pid")" 2>/dev/null; }

stop() {
  # The services first, each given up to 15 s to finish (their relays publish what is left), then what they use.
  for entry in "${services[@]}"; do
    name=${entry%%:*}
    if alive "$name"; then
      pid=$(cat "$state/$name.pid")
      kill "$pid"
      for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      echo "stopped $name"
    fi
    rm -f "$state/$name.pid"
  done
  for name in kafka redis; do
    if alive "$name"; then kill "$(cat "$state/$name.pid")" && echo "stopped $name"; fi
    rm -f "$state/$name.pid"
  done
  if [ -n "$pg_bin" ] && [ -f "$state/pg/data/postmaster.pid" ]; then
    run_pg "$pg_bin/pg_ctl" -D "$state/pg/data" -m fast stop >/dev/null && echo "stopped postgresql"
  fi
}

status() {
  for entry in "${services[@]}" kafka:$kafka_port redis:$redis_port; do
    name=${entry%%:*}
    if alive "$name"; then echo "$name: running on 127.0.0.1:${entry##*:} (log: $state/$name.log)"; else echo "$name: stopped"; fi
  done
  if [ -f "$state/pg/data/postmaster.pid" ]; then echo "postgresql: running on 127.0.0.1:$pg_port"; else echo "postgresql: stopped"; fi
}

wait_for() { # name url
  for _ in $(seq 1 300); do
    curl -fs "$2" >/dev/null 2>&1 && return 0
    alive "$1" || { echo "$1 exited; its log:" >&2; tail -n 20 "$state/$1.log" >&2; return 1; }
    sleep 0.1
  done
  echo "$1 did not answer $2" >&2
  return 1
}

start() {
  local configuration=debug
  [ "${1:-}" = "--release" ] && configuration=release
  [ -n "$pg_bin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
  mkdir -p "$state"
  # shellcheck source=kafka-tools.sh
  source "$root/scripts/kafka-tools.sh"
  echo "== building ($configuration)"
  swift build -c "$configuration" --traits Kafka,Redis --product finflow >/dev/null
  local bin
  bin="$(swift build -c "$configuration" --show-bin-path)/finflow"

  if [ ! -f "$state/pg/data/postmaster.pid" ]; then
    if [ ! -d "$state/pg/data" ]; then
      mkdir -p "$state/pg"
      [ "$(id -u)" = 0 ] && chown postgres "$state/pg"
      run_pg "$pg_bin/initdb" -D "$state/pg/data" -U finflow --auth=trust -E UTF8 >/dev/null
    fi
    run_pg "$pg_bin/pg_ctl" -D "$state/pg/data" -l "$state/pg/log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $state/pg" start >/dev/null
    # The services connect as an ordinary role: a superuser would bypass row-level security.
    psql -q -h 127.0.0.1 -p "$pg_port" -U finflow -d postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname = 'finflow_app'" | grep -q 1 ||
      psql -q -h 127.0.0.1 -p "$pg_port" -U finflow -d postgres -c "CREATE ROLE finflow_app LOGIN"
    psql -q -h 127.0.0.1 -p "$pg_port" -U finflow -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'finflow'" | grep -q 1 ||
      psql -q -h 127.0.0.1 -p "$pg_port" -U finflow -d postgres -c "CREATE DATABASE finflow OWNER finflow_app"
    echo "postgresql on 127.0.0.1:$pg_port"
  fi
  if ! alive kafka; then
    "$FINFLOW_TANSU" broker --listener-url "tcp://127.0.0.1:$kafka_port" --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
      --storage-engine memory://tansu/ >"$state/kafka.log" 2>&1 &
    echo $! >"$state/kafka.pid"
    echo "kafka (tansu) on 127.0.0.1:$kafka_port"
  fi
  if ! command -v redis-server >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "== installing redis-server (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
  if command -v redis-server >/dev/null && ! alive redis; then
    redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >"$state/redis.log" 2>&1 &
    echo $! >"$state/redis.pid"
    echo "redis on 127.0.0.1:$redis_port"
  fi

  export LD_LIBRARY_PATH="$FINFLOW_RDKAFKA_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export FINFLOW_DATABASE_URL="$database_url" FINFLOW_KAFKA_BROKERS="127.0.0.1:$kafka_port" FINFLOW_REDIS_URL="redis://127.0.0.1:$redis_port" FINFLOW_LOG_FORMAT=json
  "$bin" migrate >/dev/null
  for entry in "${services[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    alive "$name" && continue
    FINFLOW_DATA_DIRECTORY="$state/$name" "$bin" serve --services "$name" --port "$port" >"$state/$name.log" 2>&1 &
    echo $! >"$state/$name.pid"
    wait_for "$name" "http://127.0.0.1:$port/health/ready"
    echo "$name on http://127.0.0.1:$port (docs: /docs)"
    # Every other service verifies tokens with auth's published keys.
    [ "$name" = auth ] && export FINFLOW_JWKS_URL="http://127.0.0.1:$port/.well-known/jwks.json"
  done
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start [--release] | stop | status" >&2; exit 2 ;;
esac
