#!/usr/bin/env bash
# Single-entry posting latency on a release build: a demo tenant (a year of books), the server started on it, a
# warm-up, then single journal entries over HTTP at fixed rates (10 s each), each request timed from its scheduled
# start, once with ids the server assigns (time-ordered) and once with a random id from the client on every request.
# SQLite by default; pass --database-url postgres://… to measure PostgreSQL (the database must exist).
# --journal-lines N first imports a generated journal of N lines into the tenant (as Benchmarks/ledger.sh does), so the
# indexes are those of a large book; --rounds N repeats every measurement N times (default 1), since one stall of the
# disk decides a single run's p99.
# Usage: Benchmarks/posting-latency.sh [--database-url URL] [--journal-lines N] [--rounds N] [rates…, default 100 250 500]
set -euo pipefail
cd "$(dirname "$0")/.."
storage=()
journal_lines=0
rounds=1
while [ $# -gt 0 ]; do
  case "$1" in
    --database-url) storage=(--database-url "$2"); shift 2 ;;
    --journal-lines) journal_lines=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) break ;;
  esac
done
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(100 250 500)
source Benchmarks/support/demo-server.sh
release_binary
work=$(mktemp -d /tmp/finflow-latency.XXXXXX)
[ ${#storage[@]} -gt 0 ] || storage=(--data-directory "$work/data")
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" migrate "${storage[@]}" >/dev/null 2>&1  # a PostgreSQL database is not migrated by `demo`
make_demo "${storage[@]}"
if [ "$journal_lines" -gt 0 ]; then
  tenant=$(printf '%s' "$demo" | sed -n 's/^Demo tenant \([0-9a-f-]*\) holds.*/\1/p')
  python3 Benchmarks/support/make_journal.py "$journal_lines" "$work/journal" >/dev/null
  for file in "$work"/journal/part-*.journal; do "$bin" accounting import --tenant "$tenant" --file "$file" "${storage[@]}" >/dev/null; done
  echo "imported a journal of $journal_lines lines"
fi
port=$((30000 + RANDOM % 20000))
FINFLOW_LOG_LEVEL=error "$bin" serve --port "$port" "${storage[@]}" >/dev/null 2>&1 &
server=$!
wait_for_server "$port"
sign_in "$port"
posting_accounts "$port"
# Warm-up: the server's first seconds also relay the demo's events.
python3 Benchmarks/support/fixed_rate.py "$port" "$token" "$debit" "$credit" 50 5 >/dev/null
for _ in $(seq 1 "$rounds"); do
  for rate in "${rates[@]}"; do
    for ids in server client; do
      echo "single-entry posting: $(python3 Benchmarks/support/fixed_rate.py "$port" "$token" "$debit" "$credit" "$rate" 10 "$ids")"
    done
  done
done
