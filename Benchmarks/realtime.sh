#!/usr/bin/env bash
# The realtime service's throughput: seeded transactions of ten tenants scored by the detector alone, then through the
# whole consumer on SQLite (scoring, numbered observations, snapshots, anomalies and their events), in the bus's
# batches of 500. Target: at least 10,000 events a second through the consumer on two cores.
# Usage: Benchmarks/realtime.sh [events]
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/support/demo-server.sh
release_binary
"$bin" realtime-bench --events "${1:-200000}" --tenants 10 --batch 500
