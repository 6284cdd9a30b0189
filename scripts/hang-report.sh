#!/usr/bin/env bash
# Prints what every thread of a running process is doing, one stack per distinct shape with the number of threads
# in it, so a hung test run names the wait it is stuck in. Threads idle in an event loop or a pool, outside
# FinFlow's code, are counted, not printed. The test command calls it on a run that outlived its deadline.
#
#   scripts/hang-report.sh PID
# Needs gdb (Debian's package; the test command installs it when a run hangs).
set -uo pipefail
pid=${1:?usage: scripts/hang-report.sh PID}
if ! command -v gdb >/dev/null 2>&1; then
  echo "hang report: gdb is not installed" >&2
  exit 0
fi
dump=$(mktemp /tmp/finflow-hang.XXXXXX)
timeout 300 gdb -p "$pid" -batch -ex "set pagination off" -ex "thread apply all bt 40" 2>/dev/null | swift demangle --simplified >"$dump"
python3 - "$dump" <<'PY'
import collections, re, sys
text = open(sys.argv[1], errors="replace").read()
shapes = collections.Counter()
names = {}
for block in re.split(r"\n(?=Thread \d+ \()", text):
    header = block.split("\n", 1)[0]
    if not header.startswith("Thread "):
        continue
    frames = []
    for line in block.split("\n")[1:]:
        match = re.match(r"#\d+\s+(?:0x[0-9a-f]+ in )?(.*)$", line)
        if not match:
            continue
        frame = re.sub(r" at \S+:\d+$", "", match.group(1))
        frame = re.split(r" \((?:\)|[A-Za-z_$][\w$]*=)", frame, maxsplit=1)[0]
        frames.append(frame[:200])
    shape = tuple(frames)
    shapes[shape] += 1
    thread = re.search(r'"([^"]*)"\)?:?$', header)
    names.setdefault(shape, thread.group(1) if thread else header[:60])
idle = re.compile(r"epoll_wait|pthread_cond_wait|pthread_cond_timedwait|futex|nanosleep|sigsuspend|poll|rd_kafka|cnd_timedwait|accept")
quiet = 0
for shape, count in shapes.most_common():
    ours = any(re.search(r"FinFlow|finflow|Tests?\b", frame) for frame in shape)
    if not ours and (not shape or idle.search(" ".join(shape[:3]))):
        quiet += count
        continue
    print(f"== {count} thread(s) like '{names[shape]}'")
    for frame in shape:
        print("   ", frame)
print(f"== and {quiet} thread(s) idle in an event loop, a pool or a timed wait, outside FinFlow's code")
PY
rm -f "$dump"
