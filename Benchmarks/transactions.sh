#!/usr/bin/env bash
# The transaction service on a release build, embedded (every service in one process, SQLite): a demo tenant, the
# server started on it, then transactions created over HTTP at fixed rates (10 s each), each request timed from its
# scheduled start, and the time until the ledger has posted all of them (the saga: TransactionCreated through the
# outbox to accounting, JournalEntryPosted back).
# Usage: Benchmarks/transactions.sh [rates…, default 100 250]
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(100 250)
source Benchmarks/support/demo-server.sh
release_binary
work=$(mktemp -d /tmp/finflow-transactions.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

make_demo --data-directory "$work/data"
port=$((30000 + RANDOM % 20000))
FINFLOW_LOG_LEVEL=error "$bin" serve --port "$port" --data-directory "$work/data" >/dev/null 2>&1 &
server=$!
wait_for_server "$port"
sign_in "$port"
accounts=$(curl -fs "http://127.0.0.1:$port/v1/transactions/accounts" -H "authorization: Bearer $token")
pick() { printf '%s' "$accounts" | python3 -c "import json,sys; print([a['$2'] for a in json.load(sys.stdin)['items'] if a['code']=='$1'][0])"; }
source_account=$(pick 1020 id) destination=$(pick 6300 id) currency=$(pick 1020 currency)
# Warm-up.
python3 Benchmarks/support/transaction_rate.py "$port" "$token" "$source_account" "$destination" "$currency" 20 3 >/dev/null
for rate in "${rates[@]}"; do
  echo "transactions: $(python3 Benchmarks/support/transaction_rate.py "$port" "$token" "$source_account" "$destination" "$currency" "$rate" 10)"
done
