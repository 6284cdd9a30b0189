#!/usr/bin/env bash
# The integration service's sync on a release build, embedded (every service in one process, SQLite), against a
# QuickBooks Online and a Xero stand-in (Benchmarks/support/accounting_standin.py) that answer each call after a
# provider's latency and enforce the providers' published limits per company (QuickBooks 500 calls a minute and 10 at
# once; Xero 60 a minute and 5 at once) with 429s. For each provider: a connection authorised through the real OAuth
# flow, then the first sync of DOCUMENTS documents (time from the run's start to its end, documents a second), then an
# incremental run with nothing changed; the time until the ledger has posted every document the first sync read
# (counted from the first run's end: the income account holds what the stand-in's invoices add up to); and what the
# stand-in saw (calls, 429s, the most at once, the busiest minute). Then the push the other way: the demo tenant's year
# of entries (about 480) pushed to the company as journals, invoices, bills and payments (the stand-ins carry accounts
# numbered as FinFlow's chart),
# timed from turning pushing on to the last journal made.
# Usage: Benchmarks/integrations-sync.sh [documents, default 10000] [latency ms, default 150] [providers, default "quickbooks xero"]
set -euo pipefail
cd "$(dirname "$0")/.."
documents=${1:-10000}
latency=${2:-150}
source Benchmarks/support/demo-server.sh
release_binary
work=$(mktemp -d /tmp/finflow-sync.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

qbo_port=$(free_port) xero_port=$(free_port) port=$(free_port)
python3 Benchmarks/support/accounting_standin.py quickbooks "$qbo_port" "$documents" "$latency" & pids+=($!)
python3 Benchmarks/support/accounting_standin.py xero "$xero_port" "$documents" "$latency" & pids+=($!)
urls() { echo "authorize=http://127.0.0.1:$1/authorize,token=http://127.0.0.1:$1/token,revoke=http://127.0.0.1:$1/revoke,api=http://127.0.0.1:$1"; }
make_demo --data-directory "$work/data"
FINFLOW_LOG_LEVEL=error \
FINFLOW_QUICKBOOKS_CLIENT_ID=bench FINFLOW_QUICKBOOKS_CLIENT_SECRET=bench FINFLOW_QUICKBOOKS_URLS=$(urls "$qbo_port") \
FINFLOW_XERO_CLIENT_ID=bench FINFLOW_XERO_CLIENT_SECRET=bench FINFLOW_XERO_URLS=$(urls "$xero_port") \
  "$bin" serve --port "$port" --data-directory "$work/data" >/dev/null 2>&1 & pids+=($!)
wait_for_server "$port"
api="http://127.0.0.1:$port/v1"
token=$(curl -fs "$api/auth/login" -H 'content-type: application/json' -d "{\"email\":\"$email\",\"password\":\"$password\"}" | json 'd["tokens"]["accessToken"]')
call() { curl -fs -X "$1" "$api$2" -H "authorization: Bearer $token" -H 'content-type: application/json' ${3:+-d "$3"}; }

# Authorises FinFlow at the stand-in the way a browser would; prints the connection id.
connect() {
  local started url back
  started=$(call POST /integrations/connections "{\"provider\":\"$1\",\"redirectUri\":\"http://127.0.0.1/callback\"}")
  url=$(printf '%s' "$started" | json 'd["authorisationUrl"]')
  back=$(curl -s -o /dev/null -w '%{redirect_url}' "$url")
  call POST /integrations/connections/authorised "$(python3 -c '
import json, sys
from urllib.parse import urlparse, parse_qs
q = parse_qs(urlparse(sys.argv[1]).query)
print(json.dumps({k: v[0] for k, v in q.items() if k in ("code", "state", "realmId")}))' "$back")" | json 'd["id"]'
}

# Runs one sync of connection $1 to its end; prints the run's seconds from start to finish and its totals.
sync_once() {
  local run status
  run=$(call POST "/integrations/connections/$1/syncs" '{"mode":"incremental"}' | json 'd["id"]')
  while true; do
    status=$(call GET "/integrations/syncs/$run")
    case $(printf '%s' "$status" | json 'd["status"]') in succeeded|failed) break ;; esac
    sleep 0.5
  done
  printf '%s' "$status" | python3 -c '
import json, sys
from datetime import datetime
d = json.load(sys.stdin)
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
seconds = t(d["finishedAt"]) - t(d["startedAt"])
totals = {}
for counts in d["counts"].values():
    for k, v in counts.items(): totals[k] = totals.get(k, 0) + v
read = sum(totals.values())
status = d["status"]
print(f"{status} in {seconds:.1f} s, {read} documents ({read / max(seconds, 0.001):.0f}/s): {totals}")'
}

# The stand-ins' charts carry FinFlow's account numbers, so pushed lines find their accounts.
chart=$(call GET /accounting/accounts | python3 -c 'import json,sys; print(json.dumps([{k: a[k] for k in ("code", "name", "type", "currency")} for a in json.load(sys.stdin)["items"]]))')
curl -fs -X POST "http://127.0.0.1:$qbo_port/chart" -d "$chart" >/dev/null
curl -fs -X POST "http://127.0.0.1:$xero_port/chart" -d "$chart" >/dev/null

for provider in ${3:-quickbooks xero}; do
  standin=$([ "$provider" = quickbooks ] && echo "$qbo_port" || echo "$xero_port")
  id=$(connect "$provider")
  echo "$provider, $documents documents, ${latency} ms a call"
  echo "  first sync        $(sync_once "$id")"
  synced=$(date +%s.%N)
  expected=$(curl -fs "http://127.0.0.1:$standin/expected")
  income=$(printf '%s' "$expected" | python3 -c '
import hashlib, json, sys, uuid
d = json.load(sys.stdin)
b = bytearray(hashlib.sha256(("finflow-sync\x1f" + sys.argv[1] + "\x1faccount\x1f" + d["incomeAccount"]).encode()).digest()[:16])
b[6] = 0x80 | (b[6] & 0x0F); b[8] = 0x80 | (b[8] & 0x3F)
print(uuid.UUID(bytes=bytes(b)))' "$id")
  want=$(printf '%s' "$expected" | json 'd["incomeCreditMinor"]')
  entries=$(printf '%s' "$expected" | json 'd["entries"]')
  for _ in $(seq 1 1200); do
    credits=$(call GET "/accounting/accounts/$income/balance" 2>/dev/null | json 'd["credits"]' 2>/dev/null || echo 0)
    [ "$credits" = "$want" ] && break
    sleep 0.25
  done
  posted=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$synced" "$(date +%s.%N)")
  echo "  into the ledger   $entries entries posted $posted s after the run ended (income credit $credits of $want)"
  echo "  incremental sync  $(sync_once "$id")"
  started=$(date +%s.%N)
  call PUT "/integrations/connections/$id/push" '{"enabled":true,"since":"2000-01-01"}' >/dev/null
  idle=0
  for _ in $(seq 1 4800); do
    queued=$(call GET "/integrations/connections/$id/pushes?status=queued&limit=1" | json 'len(d["items"])')
    done_=$(call GET "/integrations/connections/$id/pushes?limit=1" | json 'len(d["items"])')
    if [ "$done_" = 1 ] && [ "$queued" = 0 ]; then idle=$((idle + 1)); else idle=0; fi
    [ "$idle" -ge 4 ] && break
    sleep 0.25
  done
  pushed=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]) - 0.75:.1f}')" "$started" "$(date +%s.%N)")
  made=$(curl -fs "http://127.0.0.1:$standin/stats" | json 'd["journals_made"]')
  written=$(curl -fs "http://127.0.0.1:$standin/stats" | json 'd["documents_made"]')
  refused=$(call GET "/integrations/connections/$id/pushes?status=refused&limit=200" | json 'len(d["items"])')
  echo "  push the demo year $made journals and $written documents (invoices, bills, payments, contacts, items) made in $pushed s ($(python3 -c "print(f'{($made + $written) / max($pushed, 0.001):.1f}')") writes/s), $refused refused (two currencies)"
  echo "  stand-in saw      $(curl -fs "http://127.0.0.1:$standin/stats")"
done
