#!/usr/bin/env bash
# A data subject access request on a release build, every service in one process (SQLite, or PostgreSQL with
# --database-url): seeds a tenant's transactions (default 100,000 naming the subject and 100,000 others), then prints
# how long the seven services take to answer and the compliance service to assemble the archive, and the archive's
# size and streaming time.
# Usage: Benchmarks/privacy.sh [transactions naming the subject] [--others N] [--database-url postgres://…]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-100000}"
shift || true
source Benchmarks/support/demo-server.sh
release_binary
"$bin" privacy-bench --transactions "$count" "$@"
