#!/usr/bin/env bash
# The tax service on a release build. In process: the engine alone and with the HTTP path's JSON, ten-line documents
# on one thread (finflow tax-bench). Over HTTP, embedded (every service in one process, SQLite): a demo tenant, the
# server started on it, ten-line calculations kept (not committed) at fixed rates for 10 s each, each request timed
# from its scheduled start.
# Usage: Benchmarks/tax.sh [rates…, default 100 200 400]
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(100 200 400)
source Benchmarks/support/demo-server.sh
release_binary
echo "== in process"
"$bin" tax-bench
work=$(mktemp -d /tmp/finflow-tax.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
make_demo --data-directory "$work/data"
port=$((30000 + RANDOM % 20000))
FINFLOW_LOG_LEVEL=error FINFLOW_VIES_URL=off "$bin" serve --port "$port" --data-directory "$work/data" >/dev/null 2>&1 &
server=$!
wait_for_server "$port"
sign_in "$port"
echo "== over HTTP (embedded, SQLite)"
python3 Benchmarks/support/tax_rate.py "$port" "$token" 20 3 >/dev/null
for rate in "${rates[@]}"; do
  echo "tax: $(python3 Benchmarks/support/tax_rate.py "$port" "$token" "$rate" 10)"
done
