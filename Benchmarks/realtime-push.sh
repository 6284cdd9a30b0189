#!/usr/bin/env bash
# Commit-to-push latency of the realtime feed: a producing service's outbox commits TransactionCreated at a steady
# rate (default 1,000 a second, a batch every 10 ms; one in twenty far above its account's usual amount), its relay
# hands them to the realtime service on the in-process bus, and a WebSocket client connected over a real socket notes
# when each anomaly arrives. Target: p99 under 100 ms at 1,000 events a second.
# Usage: Benchmarks/realtime-push.sh [rate] [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/support/demo-server.sh
release_binary
"$bin" realtime-push-bench --rate "${1:-1000}" --seconds "${2:-20}"
