#!/usr/bin/env bash
# Fuzzes the whole HTTP API of a running `finflow serve` with Schemathesis (pinned in tools/api-fuzz/requirements.txt,
# installed once from PyPI into .build-tools/): every operation of the merged /openapi.json, called as the signed-in
# owner of a demo tenant, with the checks not_a_server_error, response_schema_conformance and status_code_conformance.
# Fails when any check fails or when the server is not answering afterwards.
#
#   scripts/api-fuzz.sh [BINARY]      BINARY defaults to .build/debug/finflow
#   FINFLOW_API_FUZZ_EXAMPLES         examples per operation and phase (default 25: about a minute on two cores)
#   FINFLOW_API_FUZZ_SEED             Hypothesis seed (default: a fixed one, so a run repeats; set another to explore)
#
# Operations that end the fuzzing session itself are left out, by path: signing out, ending sessions, changing the
# password, second-factor enrolment, switching or suspending the tenant, and changing or removing members (which
# could take the owner's role away). Each of them has its own tests in the suite.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${1:-.build/debug/finflow}
examples=${FINFLOW_API_FUZZ_EXAMPLES:-25}
seed=${FINFLOW_API_FUZZ_SEED:-20261205}

tools="$PWD/.build-tools"
venv="$tools/schemathesis"
if [ ! -x "$venv/bin/schemathesis" ] || ! cmp -s tools/api-fuzz/requirements.txt "$venv/requirements.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  PIP_ROOT_USER_ACTION=ignore "$venv/bin/pip" install --quiet --disable-pip-version-check -r tools/api-fuzz/requirements.txt
  cp tools/api-fuzz/requirements.txt "$venv/requirements.txt"
fi

work=$(mktemp -d /tmp/finflow-api-fuzz.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

demo=$("$binary" demo --data-directory "$work/data")
credentials=$(printf '%s\n' "$demo" | sed -nE 's/.*email ([^ ]+)  password ([^ ]+).*/\1 \2/p')
read -r email password <<<"$credentials"
# The demo tenant is also the operator tenant, so the performance service's routes are fuzzed past their operator check.
operator_tenant=$(printf '%s\n' "$demo" | sed -nE 's/^Demo tenant ([0-9a-f-]+) holds.*/\1/p')
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
FINFLOW_OPERATOR_TENANT="$operator_tenant" "$binary" serve --port "$port" --data-directory "$work/data" --log-level error >"$work/server.log" 2>&1 &
server_pid=$!
disown "$server_pid"
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -sf "$base/health/live" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { echo "api-fuzz: the server exited before serving:"; cat "$work/server.log"; exit 1; }
  sleep 0.2
done
token=$(curl -sf "$base/v1/auth/login" -H 'content-type: application/json' \
  -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json, sys; print(json.load(sys.stdin)["tokens"]["accessToken"])')

# The live anomaly feed is left out: it never ends, which a request-and-response fuzzer cannot take; its inputs
# (Last-Event-ID, after) are tried by the realtime tests.
status=0
(cd "$work" && "$venv/bin/schemathesis" run "$base/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance \
  --max-examples "$examples" --seed "$seed" --workers 2 \
  --exclude-path-regex 'logout|revoke-others|/sessions/|password/change|/mfa/|switch-tenant|suspend|/members/|anomalies/stream' \
  --no-color) || status=$?

if ! curl -sf "$base/health/live" >/dev/null; then
  echo "api-fuzz: the server stopped answering during the run; its log:"
  tail -50 "$work/server.log"
  exit 1
fi
echo "api-fuzz: the server still answers after the run"
exit "$status"
