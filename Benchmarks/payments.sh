#!/usr/bin/env bash
# The payment service on a release build, embedded (every service in one process, SQLite), in front of localstripe:
# payments created and confirmed in one request at fixed rates (10 s each), next to the same PaymentIntent calls sent
# straight to localstripe at the same rate. The difference is what FinFlow adds to the gateway's own time (the claim
# written before the call, the settlement and timeline after it, the outbox event). Each measurement gets a fresh
# localstripe: it keeps every object in memory and slows as they pile up, and one process of it takes about 25
# payments/s on two cores, so rates above that measure localstripe's queue, not FinFlow.
# Usage: Benchmarks/payments.sh [rates…, default 10 20]
set -euo pipefail
cd "$(dirname "$0")/.."
rates=("$@")
[ ${#rates[@]} -gt 0 ] || rates=(10 20)
source scripts/payment-tools.sh
source Benchmarks/support/demo-server.sh
release_binary
work=$(mktemp -d /tmp/finflow-payments.XXXXXX)
server="" stripe=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null
  [ -n "$stripe" ] && kill "$stripe" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh localstripe on a free port; its pid in $stripe, its port in $stripe_port.
start_stripe() {
  [ -n "$stripe" ] && kill "$stripe" 2>/dev/null && wait "$stripe" 2>/dev/null || true
  stripe_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  PYTHONPATH="$FINFLOW_LOCALSTRIPE_PATH" python3 -c "import sys; from aiohttp import web; from localstripe.server import app; web.run_app(app, host='127.0.0.1', port=int(sys.argv[1]), print=None)" \
    "$stripe_port" >/dev/null 2>&1 &
  stripe=$!
  for _ in $(seq 1 200); do curl -s "http://127.0.0.1:$stripe_port/v1/payment_intents/pi_none" -H 'authorization: Bearer sk_test_bench' >/dev/null 2>&1 && break; sleep 0.1; done
}
make_demo --data-directory "$work/data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FINFLOW_LOG_LEVEL=error "$bin" serve --port "$port" --data-directory "$work/data" >/dev/null 2>&1 &
server=$!
wait_for_server "$port"
sign_in "$port"
use_stripe() {
  curl -fs -X PUT "http://127.0.0.1:$port/v1/payments/gateways/stripe" -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"baseUrl\":\"http://127.0.0.1:$stripe_port\",\"credentials\":{\"secretKey\":\"sk_test_bench\"}}" >/dev/null
}
# Warm-up of FinFlow's connections and code paths.
start_stripe
use_stripe
python3 Benchmarks/support/payment_rate.py finflow "$port" "$token" 5 2 >/dev/null
for rate in "${rates[@]}"; do
  start_stripe
  echo "gateway alone   $(python3 Benchmarks/support/payment_rate.py stripe "$stripe_port" sk_test_bench "$rate" 10)"
  start_stripe
  use_stripe
  echo "through FinFlow $(python3 Benchmarks/support/payment_rate.py finflow "$port" "$token" "$rate" 10)"
done
