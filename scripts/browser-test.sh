#!/usr/bin/env bash
# The web app in a real browser: starts `finflow serve --demo` on SQLite in a temporary directory and runs
# scripts/browser_test.py with Playwright (PyPI) driving Debian's Chromium (Playwright cannot download its own browser
# here). Installs what is missing. Usage: scripts/browser-test.sh [path to the finflow binary].
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "== installing chromium (Debian package)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
venv=.build-tools/playwright
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import playwright" 2>/dev/null; then
  echo "== fetching Playwright (PyPI)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q playwright==1.65.2
fi

binary=${1:-$(swift build --show-bin-path)/finflow}
work=$(mktemp -d /tmp/finflow-browser.XXXXXX)
port=$((20000 + RANDOM % 20000))
"$binary" serve --demo --port "$port" --data-directory "$work/data" > "$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 120); do
  grep -q "sign in:" "$work/serve.log" && grep -q "listening" "$work/serve.log" && break
  sleep 1
done
line=$(grep "sign in:" "$work/serve.log" || true)
if [ -z "$line" ]; then
  echo "the server did not start:"; cat "$work/serve.log"; exit 1
fi
email=$(echo "$line" | sed -E 's/.*email ([^ ]+) .*/\1/')
password=$(echo "$line" | sed -E 's/.*password ([^ ]+).*/\1/')
"$venv/bin/python" scripts/browser_test.py "http://127.0.0.1:$port" "$email" "$password"
