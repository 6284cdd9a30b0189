#!/usr/bin/env bash
# Sanctions screening in process on a release build, one thread: recall and false positives at the default threshold
# on the bundled UN list, then screenings/s and p50/p99 per screening through the candidate index next to a scan of
# every name, on the UN list and on a synthetic list of invented names (the UN list inside it).
# Usage: Benchmarks/screening.sh [synthetic names, default 100000; 1000000 takes many minutes: the token look-up by
# letter pairs grows with the vocabulary]
set -euo pipefail
cd "$(dirname "$0")/.."
source Benchmarks/support/demo-server.sh
release_binary
"$bin" screening-bench --synthetic "${1:-100000}"
