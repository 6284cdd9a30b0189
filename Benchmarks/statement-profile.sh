#!/usr/bin/env bash
# What measuring every statement costs in CPU, read from a profile instead of throughput (whose spread on a shared
# machine is larger than the cost): a release server on a demo tenant (SQLite) takes the benchmark's load while
# `perf record` samples it, then the share of the server's CPU samples in the statement book and its metrics is printed.
# Needs perf (Debian's linux-perf).
# Usage: Benchmarks/statement-profile.sh [batch|single, default batch]
set -euo pipefail
cd "$(dirname "$0")/.."
load=${1:-batch}
source Benchmarks/support/demo-server.sh
release_binary
work=$(mktemp -d /tmp/finflow-statement-profile.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
make_demo --data-directory "$work/data"
port=$((30000 + RANDOM % 20000))
FINFLOW_LOG_LEVEL=error "$bin" serve --port "$port" --data-directory "$work/data" >/dev/null 2>&1 &
pid=$!
wait_for_server "$port" /health/ready
sign_in "$port"
posting_accounts "$port"
run_load() {
  if [ "$load" = single ]; then python3 Benchmarks/support/post_rate.py "$port" "$token" "$debit" "$credit" "$1"
  else python3 Benchmarks/support/batch_post.py "$port" "$token" "$debit" "$credit" "$(( $1 * 6 ))"; fi
}
run_load 2 >/dev/null  # warm-up
perf record -F 999 -g -p "$pid" -o "$work/perf.data" -- sleep 12 >/dev/null 2>&1 &
profiler=$!
echo "load: $(run_load 10)"
wait "$profiler" || true
echo "share of the server's CPU samples (children included):"
perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
  | grep -E 'StatementBookC6record|StatementBookC5index|SQLFingerprintO2of|Prometheus9HistogramC.*record' | awk '{print "  " $1 "  " $4}' | cut -c1-120
