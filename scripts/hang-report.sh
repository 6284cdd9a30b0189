#!/usr/bin/env bash
# Prints what every thread of a running process is doing, one stack per distinct shape with the number of threads
# in it, so a hung test run names the wait it is stuck in. Threads idle in an event loop's or a pool's wait are
# counted, not printed. The test command calls it on a run that outlived its deadline.
#
#   scripts/hang-report.sh PID
set -uo pipefail
pid=${1:?usage: scripts/hang-report.sh PID}
lldb_bin=$(command -v lldb || true)
if [ -z "$lldb_bin" ]; then
  echo "hang report: no lldb on PATH" >&2
  exit 0
fi
dump=$(mktemp /tmp/finflow-hang.XXXXXX)
timeout 300 "$lldb_bin" -p "$pid" --batch -o "thread backtrace all -c 40" >"$dump" 2>&1
python3 - "$dump" <<'PY'
import re, sys, collections
text = open(sys.argv[1], errors="replace").read()
threads = re.split(r"\n(?=\*? ?thread #\d+)", text)
shapes = collections.Counter()
names = {}
for block in threads:
    if "thread #" not in block.split("\n", 1)[0]:
        continue
    frames = []
    for line in block.split("\n")[1:]:
        match = re.search(r"frame #\d+: 0x[0-9a-f]+ (.*)$", line)
        if not match:
            continue
        frame = re.sub(r" at [^ ]+:\d+(:\d+)?$", "", match.group(1))
        frame = re.sub(r"\s*\+ \d+$", "", frame)
        frames.append(frame[:220])
    shape = tuple(frames)
    shapes[shape] += 1
    names.setdefault(shape, block.split("\n", 1)[0].strip()[:120])
idle = re.compile(r"epoll_wait|pthread_cond_wait|__futex_abstimed_wait|nanosleep|kevent|poll\b|rd_kafka_q_serve|cnd_timedwait")
quiet = 0
for shape, count in shapes.most_common():
    if shape and idle.search(shape[0] + " " + (shape[1] if len(shape) > 1 else "")) and not any(
            "FinFlow" in frame or "finflow" in frame or "Tests" in frame for frame in shape):
        quiet += count
        continue
    print(f"== {count} thread(s) like {names[shape]}")
    for frame in shape[:40]:
        print("   ", frame)
print(f"== {quiet} more thread(s) idle in an event loop, a pool or a timed wait, outside FinFlow's code")
PY
rm -f "$dump"
