#!/usr/bin/env bash
# What measuring every statement costs in CPU, read from a profile instead of throughput (whose spread on a shared
# machine is larger than the cost): a release server on a demo tenant (SQLite) takes the benchmark's load while
# `perf record` samples it, then the share of the server's CPU samples in the statement book and its metrics is printed.
# Needs perf (Debian's linux-perf).
# Usage: Benchmarks/statement-profile.sh [batch|single, default batch]
set -euo pipefail
cd "$(dirname "$0")/.."
load=${1:-batch}
swift build -c release --scratch-path .build-release --traits Kafka,Redis --product finflow >/dev/null
bin=$(swift build -c release --scratch-path .build-release --show-bin-path)/finflow
work=$(mktemp -d /tmp/finflow-statement-profile.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
demo=$("$bin" demo --data-directory "$work/data" 2>&1)
email=$(printf '%s' "$demo" | sed -n 's/.*email \([^ ]*\)  password.*/\1/p' | head -1)
password=$(printf '%s' "$demo" | sed -n 's/.*  password \([^ ]*\)$/\1/p' | head -1)
port=$((30000 + RANDOM % 20000))
FINFLOW_LOG_LEVEL=error "$bin" serve --port "$port" --data-directory "$work/data" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do curl -fs "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break; sleep 0.1; done
token=$(curl -fs "http://127.0.0.1:$port/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["accessToken"])')
accounts=$(curl -fs "http://127.0.0.1:$port/v1/accounting/accounts" -H "authorization: Bearer $token")
debit=$(printf '%s' "$accounts" | python3 -c 'import json,sys; print([a["id"] for a in json.load(sys.stdin)["items"] if a["code"]=="6300"][0])')
credit=$(printf '%s' "$accounts" | python3 -c 'import json,sys; print([a["id"] for a in json.load(sys.stdin)["items"] if a["code"]=="1010"][0])')
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
