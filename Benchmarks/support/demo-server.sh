# The set-up the benchmark scripts share: the release binary, a demo tenant's owner, the wait for a server, a token and
# the two ledger accounts the posting benchmarks post between. Sourced by a script run from the repository's root.

# Builds the release binary (incrementally, in .build-release) and sets `bin` to its path.
release_binary() {
  swift build -c release --scratch-path .build-release --traits Kafka,Redis --product finflow >/dev/null
  bin=$(swift build -c release --scratch-path .build-release --show-bin-path)/finflow
}

# Makes a demo tenant with `finflow demo ARGS…` and sets `demo` (what it printed), `email` and `password`.
make_demo() {
  demo=$("$bin" demo "$@" 2>&1)
  email=$(printf '%s' "$demo" | sed -n 's/.*email \([^ ]*\)  password.*/\1/p' | head -1)
  password=$(printf '%s' "$demo" | sed -n 's/.*  password \([^ ]*\)$/\1/p' | head -1)
  if [ -z "$email" ]; then
    echo "finflow demo failed: $demo" >&2
    return 1
  fi
}

# Waits up to 30 s until the server on port $1 answers $2 (default /health/live).
wait_for_server() {
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$1${2:-/health/live}" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "the server on port $1 did not start" >&2
  return 1
}

# Signs the demo owner in at the server on port $1 and sets `token`.
sign_in() {
  token=$(curl -fs "http://127.0.0.1:$1/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens"]["accessToken"])')
}

# Sets `debit` and `credit` to the ids of the demo ledger's accounts 6300 and 1010 at the server on port $1.
posting_accounts() {
  local accounts
  accounts=$(curl -fs "http://127.0.0.1:$1/v1/accounting/accounts" -H "authorization: Bearer $token")
  debit=$(printf '%s' "$accounts" | python3 -c 'import json,sys; print([a["id"] for a in json.load(sys.stdin)["items"] if a["code"]=="6300"][0])')
  credit=$(printf '%s' "$accounts" | python3 -c 'import json,sys; print([a["id"] for a in json.load(sys.stdin)["items"] if a["code"]=="1010"][0])')
}
