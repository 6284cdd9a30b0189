#!/usr/bin/env bash
# Ledger figures on a release build: bulk posting (lines/s of `finflow accounting import`, which stages the journal
# in chunks of 500 entries and writes each chunk while the next one stages) next to a raw INSERT of as many rows
# into the same database, on SQLite and (when PostgreSQL is installed) PostgreSQL; batched posting over HTTP (the
# batch endpoint, 500 entries a request, 4 connections, sharing group commits); single-entry HTTP posting latency
# at a fixed 500 requests/s; and trial balance and balance sheet over the whole journal next to hledger on the
# same journal (its export).
# Needs python3, curl and hledger (apt-get install hledger).
# Usage: Benchmarks/ledger.sh [journal lines, default 1000000]
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
command -v hledger >/dev/null || { echo "hledger is needed: apt-get install hledger" >&2; exit 1; }
source Benchmarks/support/demo-server.sh
release_binary
work=$(mktemp -d /tmp/finflow-ledger-bench.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / ($3 - $2):.0f}')"; }
millis() { python3 -c "print(f'{($2 - $1) * 1000:.0f}')"; }

echo "== generating a journal of $lines lines"
entries=$(python3 Benchmarks/support/make_journal.py "$lines" "$work/journal")

# Posts the journal into a demo tenant of the given storage and prints the figures.
run() {
  local label=$1; shift
  local demo tenant email password
  make_demo "$@"
  tenant=$(printf '%s' "$demo" | sed -n 's/^Demo tenant \([0-9a-f-]*\) holds.*/\1/p')
  local start end posting=0 took
  start=$(now)
  for file in "$work"/journal/part-*.journal; do
    took=$("$bin" accounting import --tenant "$tenant" --file "$file" "$@" | sed -n 's/.*posting took \([0-9.]*\) s.*/\1/p')
    posting=$(python3 -c "print($posting + $took)")
  done
  end=$(now)
  echo "$label: bulk posting $(rate "$lines" 0 "$posting") lines/s (the ledger posting $entries imported entries, staged and written in chunks of 500)"
  echo "$label: import end to end $(rate "$lines" "$start" "$end") lines/s (with hledger parsing and a process start per 100,000 entries)"
  echo "$label: raw INSERT of as many rows $("${raw[@]}") lines/s"

  local port=$((30000 + RANDOM % 20000))
  FINFLOW_LOG_LEVEL=error "$bin" serve --port "$port" "$@" >/dev/null 2>&1 &
  pids+=($!)
  wait_for_server "$port"
  local token accounts debit credit
  sign_in "$port"
  posting_accounts "$port"
  for report in trial-balance balance-sheet; do
    local best=999999
    for _ in 1 2 3; do
      start=$(now); curl -fs "http://127.0.0.1:$port/v1/accounting/statements/$report?to=2999-12-31&asOf=2999-12-31" -H "authorization: Bearer $token" >/dev/null; end=$(now)
      best=$(python3 -c "print(min($best, ($end - $start) * 1000))")
    done
    echo "$label: $report over the journal $(printf '%.0f' "$best") ms (best of 3, over HTTP)"
  done
  echo "$label: batched posting over HTTP $(python3 Benchmarks/support/batch_post.py "$port" "$token" "$debit" "$credit" 100)"
  for ids in server client; do
    echo "$label: single-entry posting $(python3 Benchmarks/support/fixed_rate.py "$port" "$token" "$debit" "$credit" 500 10 "$ids")"
  done
  "$bin" accounting export --tenant "$tenant" --output "$work/export-$label.journal" "$@"
  if [ "$label" = SQLite ]; then
    for command in "bal -N" "bse"; do
      start=$(now); hledger -f "$work/export-$label.journal" $command >/dev/null; end=$(now)
      echo "hledger $command over the same journal $(millis "$start" "$end") ms"
    done
  fi
}

raw=(python3 Benchmarks/support/raw_insert.py sqlite "$work/sqlite/accounting.sqlite" "$lines")
run SQLite --data-directory "$work/sqlite"

pg_bin=""
for candidate in /usr/lib/postgresql/*/bin; do [ -x "$candidate/initdb" ] && pg_bin="$candidate"; done
if [ -n "$pg_bin" ]; then
  pg_port=$((20000 + RANDOM % 10000))
  run_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  mkdir -p "$work/pg"; [ "$(id -u)" = 0 ] && chown postgres "$work/pg"
  run_pg "$pg_bin/initdb" -D "$work/pg/data" -U finflow --auth=trust -E UTF8 >/dev/null
  run_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $work/pg" start >/dev/null
  trap 'run_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true; cleanup' EXIT
  url="postgres://finflow@127.0.0.1:$pg_port/postgres"
  "$bin" migrate --database-url "$url" >/dev/null
  raw=(python3 Benchmarks/support/raw_insert.py postgres "$url" "$lines")
  run PostgreSQL --database-url "$url" --data-directory "$work/pgdata"
fi
