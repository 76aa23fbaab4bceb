#!/usr/bin/env bash
# Measures weir's resident memory with and without --memory-limit on a
# keyed tumbling-window pipeline whose windows stay open for the whole run
# (see pipeline.yaml), and writes bench/memory/RESULTS.md.
#
# Starts a private broker (port $WEIR_KAFKA_PORT, default 59092) under a work
# directory, loads RECORDS records with KEYS distinct keys, runs `build/weir
# run` once with --memory-limit LIMIT and once without, sampling VmRSS and the
# weir_state_* gauges every second until every record is consumed, then stops
# the broker and deletes the work directory.
#
# Usage: bench/memory/run.sh   (environment: RECORDS=2500000 KEYS=2000000
#        LIMIT=512Mi THREADS=2 PARTITIONS=2 WEIR=build/weir WORK=<tmp dir>
#        KEEP=1 keeps the work directory)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
records=${RECORDS:-2500000}
keys=${KEYS:-2000000}
limit=${LIMIT:-512Mi}
threads=${THREADS:-2}
partitions=${PARTITIONS:-2}
weir=${WEIR:-$root/build/weir}
work=${WORK:-$(mktemp -d /tmp/weir-bench-memory.XXXXXX)}
export WEIR_KAFKA_PORT=${WEIR_KAFKA_PORT:-59092}
export WEIR_KAFKA_DIR=$work/kafka
metrics_port=59464
bootstrap=127.0.0.1:$WEIR_KAFKA_PORT
run_timeout=${RUN_TIMEOUT:-240}

log() { printf 'bench/memory: %s\n' "$*" >&2; }
[[ -x $weir ]] || { log "no weir binary at $weir (build first)"; exit 1; }
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

# run_one NAME [weir flags...]: runs the pipeline until every record is
# consumed; writes $work/NAME.csv (seconds,rss,cache,memtables,consumed).
run_one() {
  local name=$1
  shift
  local csv=$work/$name.csv page rss consumed t=0
  echo "seconds,rss_bytes,block_cache_bytes,memtable_bytes,consumed" >"$csv"
  BENCH_PIPELINE=bench-$name "$weir" run "$here/pipeline.yaml" --bootstrap-servers "$bootstrap" \
    --state-dir "$work/state-$name" --metrics-listen "127.0.0.1:$metrics_port" \
    --threads "$threads" --log-level warn "$@" 2>"$work/$name.log" &
  weir_pid=$!
  while :; do
    sleep 1
    t=$((t + 1))
    kill -0 "$weir_pid" 2>/dev/null || { log "$name: weir exited early"; tail "$work/$name.log" >&2; exit 1; }
    rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$weir_pid/status")
    page=$(curl -fsS "http://127.0.0.1:$metrics_port/metrics" 2>/dev/null || true)
    consumed=$(metric weir_records_consumed_total <<<"$page")
    echo "$t,$rss,$(metric weir_state_block_cache_usage_bytes <<<"$page"),$(metric weir_state_memtable_bytes <<<"$page"),$consumed" >>"$csv"
    ((consumed >= records)) && break
    ((t < run_timeout)) || { log "$name: only $consumed of $records consumed after $t s"; break; }
  done
  # A few more samples after the input is consumed (a checkpoint may follow).
  for _ in 1 2 3 4 5; do
    sleep 1
    t=$((t + 1))
    rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$weir_pid/status")
    echo "$t,$rss,,,$consumed" >>"$csv"
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

run_one limited --memory-limit "$limit"
run_one default

lim_rss=$(peak "$work/limited.csv" 2)
def_rss=$(peak "$work/default.csv" 2)
lim_cache=$(peak "$work/limited.csv" 3)
lim_mem=$(peak "$work/limited.csv" 4)
def_cache=$(peak "$work/default.csv" 3)
def_mem=$(peak "$work/default.csv" 4)
lim_secs=$(tail -n 1 "$work/limited.csv" | cut -d, -f1)
def_secs=$(tail -n 1 "$work/default.csv" | cut -d, -f1)
if ((lim_rss <= limit_bytes)); then held="held"; else held="did not hold"; fi
# What the process holds beyond RocksDB's gauges and the Kafka queues'
# bounds: window state, records in flight, allocator, code.
kafka_bound=$((limit_bytes / 4))
rest=$((lim_rss - lim_cache - kafka_bound))

cat >"$here/RESULTS.md" <<EOT
# Memory benchmark

Produced by \`bench/memory/run.sh\` on $(date -u +%Y-%m-%d). Machine: $(nproc) cores,
$(lscpu | sed -n 's/^Model name: *//p'), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM;
Kafka $(ls "${WEIR_CACHE_DIR:-$HOME/.cache/weir}" | sed -n 's/^kafka-\([0-9.]*\)$/\1/p' | head -n 1) (one local broker).

Load: $records JSON records (about 60 bytes each), $keys distinct \`user\` keys,
$partitions partitions, event times inside one ten-minute window, so no window
closes during the run. Pipeline: \`bench/memory/pipeline.yaml\`, a tumbling
\`count()\` and \`sum()\` per user, \`--threads $threads\`, commit interval 5 s.
RSS is VmRSS sampled every second until every record was consumed, then
five more seconds; the RocksDB figures are the \`weir_state_*\` gauges.

| run | peak RSS | peak block cache usage | peak memtables | time to consume |
|---|---|---|---|---|
| \`--memory-limit $limit\` | $(mib "$lim_rss") MiB | $(mib "$lim_cache") MiB | $(mib "$lim_mem") MiB | ${lim_secs} s |
| no limit (defaults) | $(mib "$def_rss") MiB | $(mib "$def_cache") MiB | $(mib "$def_mem") MiB | ${def_secs} s |

With \`--memory-limit $limit\` ($(mib "$limit_bytes") MiB) the bound **$held**: peak RSS
$(mib "$lim_rss") MiB. RocksDB (cache and memtables, which are charged to the cache)
peaked at $(mib "$lim_cache") MiB of its $(mib $((limit_bytes / 4))) MiB share; the Kafka queues are
bounded at $(mib "$kafka_bound") MiB in all. Even if both were full, at least $(mib "$rest") MiB at
the peak is the in-memory window state: $keys open windows (one per user) with a
count and a sum each, which is not bounded by \`--memory-limit\` and not
spilled to RocksDB yet — about $((rest / keys)) bytes of resident memory per open
window (key strings, hash-table nodes, aggregate values and dirty-entry
tracking, allocator overhead included, plus the process's fixed cost).
The budget bounds what weir can bound today (RocksDB and the Kafka clients);
the window state dominates and needs spilling to RocksDB to fit a limit.
Times to consume are indicative only: the broker, the generator and weir
share the machine's cores.
EOT
log "wrote $here/RESULTS.md"
