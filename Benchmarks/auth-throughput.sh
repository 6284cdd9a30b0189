#!/usr/bin/env bash
# Prints requests/s of an authenticated GET /v1/auth/me next to a bare GET /health/live on the same release build,
# and the rate of bcrypt sign-ins (POST /v1/auth/login at the default cost 12). Needs wrk (apt-get install wrk).
# Usage: Benchmarks/auth-throughput.sh [seconds per run, default 10] [connections, default 64]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
source Benchmarks/support/demo-server.sh
release_binary
data=$(mktemp -d /tmp/finflow-bench.XXXXXX)
port=$((30000 + RANDOM % 20000))
base="http://127.0.0.1:$port"
FINFLOW_SIGN_IN_ATTEMPTS_PER_ADDRESS_PER_MINUTE=100000 FINFLOW_LOG_FORMAT=json FINFLOW_LOG_LEVEL=notice \
  "$bin" serve --port "$port" --data-directory "$data" >"$data/stdout" 2>"$data/log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 100); do curl -fs "$base/health/live" >/dev/null 2>&1 && break; sleep 0.1; done

email="bench-$RANDOM@example.com"
password="violet-Harbour-42-kite"
curl -fs -X POST "$base/v1/auth/register" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\",\"displayName\":\"Bench\"}" >/dev/null
sleep 0.5
token=$(grep -o 'with this token: [A-Za-z0-9_-]*' "$data/log" | tail -1 | sed 's/.*: //')
curl -fs -X POST "$base/v1/auth/verify-email" -H 'content-type: application/json' -d "{\"token\":\"$token\"}" >/dev/null
login=""
for _ in $(seq 1 50); do
  login=$(curl -s -X POST "$base/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}")
  case "$login" in *accessToken*) break ;; esac
  sleep 0.1
done
access=$(printf '%s' "$login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["accessToken"])')

rate() { wrk -t2 -c"$connections" -d"${seconds}s" "$@" | awk '/Requests\/sec/ {print $2}'; }
health=$(rate "$base/health/live")
me=$(rate -H "Authorization: Bearer $access" "$base/v1/auth/me")
cat > "$data/login.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":"$email","password":"$password"}'
LUA
signins=$(wrk -t2 -c4 -d"${seconds}s" -s "$data/login.lua" "$base/v1/auth/login" | awk '/Requests\/sec/ {print $2}')
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "GET /health/live                 $health requests/s"
echo "GET /v1/auth/me (authenticated)  $me requests/s"
python3 -c "print(f'ratio me/health                  {float(\"$me\")/float(\"$health\"):.2f} (target >= 0.50)')"
echo "POST /v1/auth/login (bcrypt 12)  $signins sign-ins/s"
