#!/usr/bin/env bash
# The realtime service's throughput: seeded transactions of ten tenants scored by the detector alone, then through the
# whole consumer on SQLite (scoring, numbered observations, snapshots, anomalies and their events), in the bus's
# batches of 500. Target: at least 10,000 events a second through the consumer on two cores.
# Usage: Benchmarks/realtime.sh [events]
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --scratch-path .build-release --traits Kafka,Redis --product finflow >/dev/null
bin=$(swift build -c release --scratch-path .build-release --show-bin-path)/finflow
"$bin" realtime-bench --events "${1:-200000}" --tenants 10 --batch 500
