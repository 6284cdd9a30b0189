#!/usr/bin/env bash
# What measuring every database statement costs: posting throughput with the statement statistics on and off
# (FINFLOW_STATEMENT_STATISTICS), next to each other in one run on a release build. A demo tenant (a year of books);
# then, alternately off and on (so drift of the machine falls on both alike), single journal entries over HTTP as fast
# as the server takes them (8 connections) and batches of 500 entries (the group-commit path, 4 connections). Prints
# each round, the medians and the cost of measuring as a share of throughput.
# SQLite by default; pass --database-url postgres://… to measure PostgreSQL (the database must exist).
# With --tracing it measures distributed tracing instead: statistics on in both, and the second of each pair exports
# every span (OTLP over HTTP) to a local receiver that keeps nothing (Benchmarks/support/otlp_sink.py).
# Usage: Benchmarks/statement-overhead.sh [--tracing] [--database-url URL] [rounds, default 3] [seconds a round, default 10]
set -euo pipefail
cd "$(dirname "$0")/.."
storage=()
tracing=false
if [ "${1:-}" = "--tracing" ]; then tracing=true; shift; fi
if [ "${1:-}" = "--database-url" ]; then storage=(--database-url "$2"); shift 2; fi
rounds=${1:-3}
seconds=${2:-10}
source Benchmarks/support/demo-server.sh
release_binary
work=$(mktemp -d /tmp/finflow-overhead-bench.XXXXXX)
pid=""
sink=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; [ -n "$sink" ] && kill "$sink" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ ${#storage[@]} -gt 0 ] && "$bin" migrate "${storage[@]}" >/dev/null
make_demo --data-directory "$work/data" "${storage[@]}"
port=$((30000 + RANDOM % 20000))

otlp_port=$((30000 + RANDOM % 20000))
if [ "$tracing" = true ]; then
  python3 Benchmarks/support/otlp_sink.py "$otlp_port" &
  sink=$!
fi

# $1: the second of a pair (statistics on; with --tracing, statistics on and spans exported) or not.
start_server() {
  local settings=(FINFLOW_STATEMENT_STATISTICS="$1")
  if [ "$tracing" = true ]; then
    settings=(FINFLOW_STATEMENT_STATISTICS=true)
    [ "$1" = true ] && settings+=(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:$otlp_port")
  fi
  env "${settings[@]}" FINFLOW_LOG_LEVEL=error "$bin" serve --port "$port" --data-directory "$work/data" "${storage[@]}" >/dev/null 2>&1 &
  pid=$!
  wait_for_server "$port" /health/ready
}
stop_server() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }

declare -A single batch
for round in $(seq 1 "$rounds"); do
  for measuring in false true; do
    start_server "$measuring"
    sign_in "$port"
    posting_accounts "$port"
    python3 Benchmarks/support/post_rate.py "$port" "$token" "$debit" "$credit" 2 >/dev/null  # warm-up
    s=$(python3 Benchmarks/support/post_rate.py "$port" "$token" "$debit" "$credit" "$seconds")
    b=$(python3 Benchmarks/support/batch_post.py "$port" "$token" "$debit" "$credit" 40 | sed 's/ lines\/s.*//')
    single[$measuring]="${single[$measuring]:-} $s"
    batch[$measuring]="${batch[$measuring]:-} $b"
    label=$([ "$tracing" = true ] && echo "tracing" || echo "statement statistics")
    echo "round $round, $label $measuring: single entries $s/s, batched $b lines/s"
    stop_server
  done
done
python3 - "$tracing" "${single[false]}" "${single[true]}" "${batch[false]}" "${batch[true]}" <<'PY'
import statistics, sys
what = "tracing" if sys.argv[1] == "true" else "measuring"
off_s, on_s, off_b, on_b = ([float(x) for x in a.split()] for a in sys.argv[2:6])
for name, off, on in (("single-entry posting (entries/s)", off_s, on_s), ("batched posting (lines/s)", off_b, on_b)):
    a, b = statistics.median(off), statistics.median(on)
    print(f"{name}: median {a:.0f} without {what}, {b:.0f} with; {what} costs {100 * (a - b) / a:.1f}% of throughput")
PY
