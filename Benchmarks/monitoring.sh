#!/usr/bin/env bash
# Transaction monitoring in process on a release build: a scenario of ten live rules (the eight shipped templates, a
# distinct-counterparty count and a weekly sum) on a fresh compliance database, fed synthetic transactions as the
# event consumer applies them. Prints events/s in batches of 500 (--batch), p50/p99 from arrival to committed decision
# at 1,000 events/s offered, the same rules evaluated by scanning the earlier events (the baseline), and events/s with
# two processes taking a tenant's deliveries in turn (--turns), reading their figures again from the tables and, with
# --redis-url, from the copy shared through Redis.
# Usage: Benchmarks/monitoring.sh [--database-url postgres://…] [--redis-url redis://…] [--events N] [--batch N]
#        [--rate N] [--seconds N] [--baseline N] [--turns N]
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/support/demo-server.sh
release_binary
"$bin" monitoring-bench "$@"
