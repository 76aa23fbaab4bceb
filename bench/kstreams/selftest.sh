#!/usr/bin/env bash
# Runs the Kafka Streams peer (bench/kstreams) on a small data set and checks
# every query's output against a model of the query (selftest.py): q1, q2,
# q5, q7, agg and session, each under at_least_once and exactly_once_v2.
# Uses a private broker (scripts/kafka.sh), started here if it is not running
# and then stopped at the end. Not part of the test suite; takes a few minutes.
#
# Usage: bench/kstreams/selftest.sh [QUERY...]        (default: all six)
# Environment:
#   WEIR_KAFKA_PORT      broker port, default 39092
#   WEIR_KAFKA_DIR       broker instance directory, default /tmp/kst-kafka
#   KST_GUARANTEES       default "at_least_once exactly_once_v2"
#   KST_THREADS          --threads, default 2
#   KST_JAVA_OPTS        JVM options, default -Xmx512m
#   KST_ARGS             more arguments for the application, e.g.
#                        "--config producer.transaction.timeout.ms=60000"
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export WEIR_KAFKA_PORT=${WEIR_KAFKA_PORT:-39092}
export WEIR_KAFKA_DIR=${WEIR_KAFKA_DIR:-/tmp/kst-kafka}
guarantees=${KST_GUARANTEES:-at_least_once exactly_once_v2}
threads=${KST_THREADS:-2}
read -r -a java_opts <<<"${KST_JAVA_OPTS:--Xmx512m}"
read -r -a extra_args <<<"${KST_ARGS:-}"
queries=("$@")
[[ ${#queries[@]} -gt 0 ]] || queries=(q1 q2 q5 q7 agg session)
python=/usr/bin/python3
kafka=$root/scripts/kafka.sh
jar=$here/target/weir-bench-kstreams.jar

"$here/build.sh"

started_broker=0
if ! "$kafka" status >/dev/null 2>&1; then
  "$kafka" start
  started_broker=1
fi
work=$(mktemp -d /tmp/kst-selftest.XXXXXX)
app_pid=
cleanup() {
  [[ -n $app_pid ]] && kill -TERM "$app_pid" 2>/dev/null && wait "$app_pid" 2>/dev/null
  ((started_broker)) && "$kafka" stop >/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
bootstrap=$("$kafka" bootstrap)

# Event times start in 2023 (WORKLOADS.md): without retention.ms=-1 the
# broker's time-based retention deletes the records within minutes.
for topic in nexmark clicks; do
  "$kafka" topic-delete "$topic" >/dev/null
  "$kafka" topic-create "$topic" 3 retention.ms=-1 >/dev/null
done
"$python" "$here/selftest.py" produce "$bootstrap" "$work/events.json"

passed=0 failed=0
for query in "${queries[@]}"; do
  case $query in
  q1 | q2 | q5 | q7) input=nexmark ;;
  agg | session) input=clicks ;;
  *) echo "selftest.sh: unknown query $query" >&2; exit 2 ;;
  esac
  for guarantee in $guarantees; do
    output=kst-$query-$guarantee
    app=kst-selftest-$query-$guarantee-$(date +%s)
    log=$work/$app.log
    "$kafka" topic-delete "$output" >/dev/null
    "$kafka" topic-create "$output" 3 retention.ms=-1 >/dev/null
    started=$SECONDS
    # --emit-interval-ms 0: closed windows are emitted on the record that
    # closes them, so the last windows are out when the input is drained.
    java "${java_opts[@]}" -jar "$jar" --bootstrap "$bootstrap" --query "$query" \
      --guarantee "$guarantee" --threads "$threads" --input "$input" --output "$output" \
      --application-id "$app" --state-dir "$work/state-$app" --emit-interval-ms 0 \
      "${extra_args[@]}" >"$log" 2>&1 &
    app_pid=$!
    ok=1
    "$python" "$here/selftest.py" wait-drained "$bootstrap" "$app" "$input" 300 || ok=0
    kill -TERM "$app_pid"
    rc=0
    wait "$app_pid" || rc=$?
    app_pid=
    if ((rc != 0)); then
      echo "selftest.sh: $query $guarantee: exit status $rc after SIGTERM" >&2
      ok=0
    fi
    "$python" "$here/selftest.py" check "$bootstrap" "$work/events.json" "$query" "$output" || ok=0
    "$python" "$here/selftest.py" internal-topics "$bootstrap" "$app" || ok=0
    "$kafka" topic-delete "$output" >/dev/null
    if ((ok)); then
      passed=$((passed + 1))
      echo "selftest.sh: $query $guarantee: ok ($((SECONDS - started)) s)"
    else
      failed=$((failed + 1))
      echo "selftest.sh: $query $guarantee: FAILED; log:" >&2
      grep -v '^\s' "$log" | tail -20 >&2
      cp "$log" "/tmp/$app.log" && echo "selftest.sh: log kept in /tmp/$app.log" >&2
    fi
  done
done
echo "selftest: $passed passed, $failed failed"
((failed == 0))
