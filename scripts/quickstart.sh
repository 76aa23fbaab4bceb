#!/usr/bin/env bash
# The README's first command: installs what is missing, builds weir, starts a
# local Kafka broker on 127.0.0.1:9092, loads a sample clickstream and runs the
# example pipeline (pipelines/page-views.yaml) on it, printing the window
# results. The broker keeps running afterwards: `scripts/kafka.sh stop`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/install-deps.sh
scripts/build.sh build
scripts/kafka.sh start
bootstrap=$(scripts/kafka.sh bootstrap)

# A fresh run each time: new topics and state.
scripts/kafka.sh topic-delete clicks >/dev/null 2>&1 || true
scripts/kafka.sh topic-delete page-view-counts >/dev/null 2>&1 || true
scripts/kafka.sh topic-create clicks 1
scripts/kafka.sh topic-create page-view-counts 1
/usr/bin/python3 scripts/sample_clicks.py "$bootstrap" clicks

state=$(mktemp -d /tmp/weir-quickstart.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$state"' EXIT
build/weir run pipelines/page-views.yaml --bootstrap-servers "$bootstrap" \
  --state-dir "$state" --metrics-listen 127.0.0.1:9464 2>"$state/weir.log" &
pid=$!

echo "weir is running (metrics on http://127.0.0.1:9464/metrics); window results:"
# Prints results as they arrive; stops once none came for 5 s.
/usr/bin/python3 - "$bootstrap" <<'PY'
import sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": f"quickstart-{time.time()}",
              "auto.offset.reset": "earliest"})
c.subscribe(["page-view-counts"])
n, last, start = 0, time.time(), time.time()
while time.time() - last < 5 and time.time() - start < 60:
    m = c.poll(0.5)
    if m is None or m.error():
        continue
    print(f"  key={m.key().decode()} {m.value().decode()}")
    n, last = n + 1, time.time()
c.close()
print(f"{n} window results in topic page-view-counts")
PY
kill -TERM "$pid"
wait "$pid"
echo "weir checkpointed and stopped (exit status 0)"
