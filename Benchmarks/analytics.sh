#!/usr/bin/env bash
# The analytics dashboard's answer time over a year of one busy tenant: seeded transactions (default 1,000,000),
# invoices, bills and the ledger's daily movements applied to the read model on SQLite as the consumers apply them,
# then the dashboard (the year to date with the period before it, its series, top customers, vendors and categories)
# asked over ranges not asked before, and over one range again and again (from the answer cache).
# Target: p99 under 50 ms, reported worked out and cached apart.
# Usage: Benchmarks/analytics.sh [transactions] [questions]
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/support/demo-server.sh
release_binary
"$bin" analytics-bench --transactions "${1:-1000000}" --questions "${2:-200}"
