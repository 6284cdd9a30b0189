#!/usr/bin/env bash
# The compliance service's audit trail in process on a release build: seeds real hash chains (default 1,000,000
# records, half of them in one tenant), then prints p50/p99 of the queries an auditor runs against that tenant (page
# of 50), a walk of 100 pages along the cursor, and one tenant exported as JSON lines and verified offline.
# Usage: Benchmarks/audit-trail.sh [records] [--database-url postgres://…]
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-1000000}"
shift || true
source Benchmarks/support/demo-server.sh
release_binary
"$bin" audit-bench --records "$records" "$@"
