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
swift build -c release --scratch-path .build-release --traits Kafka,Redis --product finflow >/dev/null
bin=$(swift build -c release --scratch-path .build-release --show-bin-path)/finflow
echo "== in process"
"$bin" tax-bench
work=$(mktemp -d /tmp/finflow-tax.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
demo=$("$bin" demo --data-directory "$work/data" 2>&1)
email=$(printf '%s' "$demo" | sed -n 's/.*email \([^ ]*\)  password.*/\1/p' | head -1)
password=$(printf '%s' "$demo" | sed -n 's/.*  password \([^ ]*\)$/\1/p' | head -1)
port=$((30000 + RANDOM % 20000))
FINFLOW_LOG_LEVEL=error FINFLOW_VIES_URL=off "$bin" serve --port "$port" --data-directory "$work/data" >/dev/null 2>&1 &
server=$!
for _ in $(seq 1 200); do curl -fs "http://127.0.0.1:$port/health/live" >/dev/null 2>&1 && break; sleep 0.1; done
token=$(curl -fs "http://127.0.0.1:$port/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["accessToken"])')
echo "== over HTTP (embedded, SQLite)"
python3 Benchmarks/support/tax_rate.py "$port" "$token" 20 3 >/dev/null
for rate in "${rates[@]}"; do
  echo "tax: $(python3 Benchmarks/support/tax_rate.py "$port" "$token" "$rate" 10)"
done
