#!/usr/bin/env bash
# Measures weir's resident memory with and without --memory-limit on a
# keyed tumbling-window pipeline whose windows stay open for the whole run
# (see pipeline.yaml), and writes bench/memory/RESULTS.md.
#
# Starts a private broker (port $WEIR_KAFKA_PORT, default 59092) under a work
# directory, loads RECORDS records with KEYS distinct keys, runs `build/weir
# run` once with --memory-limit LIMIT and once without (and, with BASE_WEIR,
# that binary with --memory-limit LIMIT too, for a comparison with another
# build), sampling VmRSS and the weir_state_* gauges every second until every
# record is consumed, then stops the broker and deletes the work directory.
#
# Usage: bench/memory/run.sh   (environment: RECORDS=2500000 KEYS=2000000
#        LIMIT=512Mi THREADS=2 PARTITIONS=2 COMMIT_INTERVAL=5s
#        WEIR=build/weir BASE_WEIR=<another weir binary> BASE_NAME=<its name>
#        METRICS_PORT=59464 WORK=<tmp dir> KEEP=1 keeps the work directory)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
records=${RECORDS:-2500000}
keys=${KEYS:-2000000}
limit=${LIMIT:-512Mi}
threads=${THREADS:-2}
partitions=${PARTITIONS:-2}
interval=${COMMIT_INTERVAL:-5s}
weir=${WEIR:-$root/build/weir}
base_weir=${BASE_WEIR:-}
base_name=${BASE_NAME:-base}
work=${WORK:-$(mktemp -d /tmp/weir-bench-memory.XXXXXX)}
export WEIR_KAFKA_PORT=${WEIR_KAFKA_PORT:-59092}
export WEIR_KAFKA_DIR=$work/kafka
metrics_port=${METRICS_PORT:-59464}
bootstrap=127.0.0.1:$WEIR_KAFKA_PORT
run_timeout=${RUN_TIMEOUT:-240}

log() { printf 'bench/memory: %s\n' "$*" >&2; }
[[ -x $weir ]] || { log "no weir binary at $weir (build first)"; exit 1; }
[[ -z $base_weir || -x $base_weir ]] || { log "no weir binary at $base_weir"; exit 1; }
command -v kcat >/dev/null || { log "kcat not found"; exit 1; }

weir_pid=
cleanup() {
  [[ -n $weir_pid ]] && kill -KILL "$weir_pid" 2>/dev/null || true
  "$root/scripts/kafka.sh" stop >/dev/null 2>&1 || true
  [[ -n ${KEEP:-} ]] || rm -rf "$work"
}
trap cleanup EXIT

"$root/scripts/kafka.sh" start
"$root/scripts/kafka.sh" topic-create bench-events "$partitions"
"$root/scripts/kafka.sh" topic-create bench-counts "$partitions"

log "loading $records records with $keys distinct keys"
started=$SECONDS
"$here/generate.sh" "$records" "$keys" |
  kcat -P -b "$bootstrap" -t bench-events -K $'\t' -z lz4 \
    -X queue.buffering.max.messages=1000000 -X linger.ms=50
log "loaded in $((SECONDS - started)) s"

# Sum of a metric's series in a /metrics page on stdin.
metric() { awk -v m="$1" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%.0f", s }'; }

# run_one NAME BINARY [weir flags...]: runs the pipeline until every record
# is consumed; writes $work/NAME.csv (seconds, rss, block cache, memtables,
# consumed, window state in memory, open windows).
run_one() {
  local name=$1 binary=$2
  shift 2
  local csv=$work/$name.csv page rss consumed t=0
  echo "seconds,rss_bytes,block_cache_bytes,memtable_bytes,consumed,state_cache_bytes,open_windows" >"$csv"
  BENCH_PIPELINE=bench-$name BENCH_COMMIT_INTERVAL=$interval "$binary" run "$here/pipeline.yaml" \
    --bootstrap-servers "$bootstrap" --state-dir "$work/state-$name" \
    --metrics-listen "127.0.0.1:$metrics_port" --threads "$threads" --log-level warn "$@" \
    2>"$work/$name.log" &
  weir_pid=$!
  while :; do
    sleep 1
    t=$((t + 1))
    kill -0 "$weir_pid" 2>/dev/null || { log "$name: weir exited early"; tail "$work/$name.log" >&2; exit 1; }
    rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$weir_pid/status")
    page=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null || true)
    consumed=$(metric weir_records_consumed_total <<<"$page")
    echo "$t,$rss,$(metric weir_state_block_cache_usage_bytes <<<"$page"),$(metric weir_state_memtable_bytes <<<"$page"),$consumed,$(metric weir_state_cache_bytes <<<"$page"),$(metric weir_open_windows <<<"$page")" >>"$csv"
    ((consumed >= records)) && break
    ((t < run_timeout)) || { log "$name: only $consumed of $records consumed after $t s"; break; }
  done
  # A few more samples after the input is consumed (a checkpoint follows).
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    sleep 1
    t=$((t + 1))
    rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$weir_pid/status")
    page=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null || true)
    echo "$t,$rss,,,$consumed,$(metric weir_state_cache_bytes <<<"$page"),$(metric weir_open_windows <<<"$page")" >>"$csv"
  done
  kill -TERM "$weir_pid"
  wait "$weir_pid" || log "$name: weir exited $?"
  weir_pid=
  log "$name: $consumed records in $t s, peak RSS $(peak "$csv" 2) bytes"
}

# peak CSV COLUMN: the largest value of a column.
peak() { awk -F, -v c="$2" 'NR > 1 && $c != "" && $c + 0 > m { m = $c + 0 } END { printf "%.0f", m }' "$1"; }
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }
limit_bytes=$(numfmt --from=auto "$limit")

run_one limited "$weir" --memory-limit "$limit"
run_one default "$weir"
[[ -n $base_weir ]] && run_one "$base_name" "$base_weir" --memory-limit "$limit"

# row NAME LABEL: one line of the results table.
row() {
  local csv=$work/$1.csv
  local open secs
  # The last open-windows sample (none from a build without the gauge), and
  # the first second at which every record was consumed.
  open=$(awk -F, 'NR > 1 && $7 != "" { v = $7 } END { print (v == "" ? "—" : v) }' "$csv")
  secs=$(awk -F, -v n="$records" 'NR > 1 && $5 + 0 >= n { print $1; exit }' "$csv")
  echo "| $2 | $(mib "$(peak "$csv" 2)") MiB | $(mib "$(peak "$csv" 6)") MiB | $(mib "$(peak "$csv" 3)") MiB | $(mib "$(peak "$csv" 4)") MiB | $open | ${secs:-?} s |"
}
lim_rss=$(peak "$work/limited.csv" 2)
if ((lim_rss <= limit_bytes)); then held="held"; else held="did not hold"; fi

{
  cat <<EOT
# Memory benchmark

Produced by \`bench/memory/run.sh\` on $(date -u +%Y-%m-%d) at $(git -C "$root" rev-parse --short HEAD). Machine: $(nproc) cores,
$(lscpu | sed -n 's/^Model name: *//p'), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM;
Kafka $(ls "${WEIR_CACHE_DIR:-$HOME/.cache/weir}" | sed -n 's/^kafka-\([0-9.]*\)$/\1/p' | head -n 1) (one local broker).

Load: $records JSON records (about 60 bytes each), $keys distinct \`user\` keys,
$partitions partitions, event times inside one ten-minute window, so no window
closes during the run. Pipeline: \`bench/memory/pipeline.yaml\`, a tumbling
\`count()\` and \`sum()\` per user, \`--threads $threads\`, commit interval $interval.
RSS is VmRSS sampled every second until every record was consumed, then
ten more seconds; the other figures are the gauges \`weir_state_cache_bytes\`
(window state held in memory, as estimated), \`weir_state_block_cache_usage_bytes\`,
\`weir_state_memtable_bytes\` and \`weir_open_windows\` (at the end).

| run | peak RSS | peak window state in memory | peak block cache usage | peak memtables | open windows | time to consume |
|---|---|---|---|---|---|---|
$(row limited "\`--memory-limit $limit\`")
$(row default "no limit")
EOT
  [[ -n $base_weir ]] && row "$base_name" "$base_name, \`--memory-limit $limit\`"
  cat <<EOT

With \`--memory-limit $limit\` the bound **$held**: peak RSS $(mib "$lim_rss") MiB
of $(mib "$limit_bytes") MiB. Times to consume are indicative only: the broker,
the generator and weir share the machine's cores.
EOT
} >"$here/RESULTS.md"
log "wrote $here/RESULTS.md"
