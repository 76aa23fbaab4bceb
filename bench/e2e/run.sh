#!/usr/bin/env bash
# Runs the end-to-end benchmarks side by side on one private broker and one
# loaded data set, and writes bench/RESULTS.md. See bench/e2e/README.md.
#
# Builds weir and the bench/e2e tools (cmake, in build-e2e/) and the Kafka
# Streams peer (bench/kstreams/build.sh); starts a broker with
# scripts/kafka.sh on $WEIR_KAFKA_PORT (default 49092) under a work
# directory; loads EVENTS events into `nexmark` and `clicks`; then, for each
# repetition, query, system and guarantee, runs the processor from the
# beginning of the input with a fresh group and output topic and measures
# drain throughput, CPU and peak RSS; checks outputs (weir against Kafka
# Streams, the raw loop's record count against the input); measures latency
# at fixed offered loads; writes the report. Everything it started is
# stopped on exit.
#
# Usage: bench/e2e/run.sh
# Environment (defaults in brackets; QUICK=1 changes several):
#   QUICK         1: a smoke run (EVENTS=100000 REPS=1, one latency load, shorter)
#   EVENTS        events per topic [500000]
#   PARTITIONS    partitions of every topic [2]
#   THREADS       weir --threads = Kafka Streams num.stream.threads = raw loop threads [1]
#   REPS          repetitions [3]
#   QUERIES       [q1 q2 q5 q7 agg session q5_60]  (q5_60: weir only, hopping 60 s / 1 s)
#   SYSTEMS       [raw weir kstreams]
#   GUARANTEES    [at_least_once exactly_once]
#   LAT_QUERIES   queries whose latency is measured [q1 q7]; empty: none
#   LAT_RATES     offered loads, events/s [5000 20000]  (windowed queries: the first only)
#   LAT_SECONDS   measured seconds per latency run [20], after LAT_WARMUP [5]
#   SEED          generator seed [42]
#   WEIR          weir binary [build-e2e/weir, built]; WEIR_COMMIT: the commit it was built from
#   BUILD         build directory for weir and the tools [build-e2e]
#   KSTREAMS_JAR  [bench/kstreams/target/weir-bench-kstreams.jar, built by bench/kstreams/build.sh]
#   KS_JAVA_OPTS  JVM options for Kafka Streams [-Xmx1g]
#   DRAIN_TIMEOUT seconds one run may take [900]
#   OUT           report path [bench/RESULTS.md]
#   WORK          work directory [a new /tmp/weir-e2e.XXXXXX]; KEEP=1 keeps it
#   WEIR_KAFKA_PORT broker port [49092] (the controller uses the next one)
#   NOTE          a sentence added to the report's header
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
py=/usr/bin/python3

quick=${QUICK:-0}
if [[ $quick == 1 ]]; then
  events=${EVENTS:-100000}
  reps=${REPS:-1}
  lat_rates=${LAT_RATES:-5000}
  lat_seconds=${LAT_SECONDS:-8}
  lat_warmup=${LAT_WARMUP:-3}
else
  events=${EVENTS:-500000}
  reps=${REPS:-3}
  lat_rates=${LAT_RATES:-5000 20000}
  lat_seconds=${LAT_SECONDS:-20}
  lat_warmup=${LAT_WARMUP:-5}
fi
partitions=${PARTITIONS:-2}
threads=${THREADS:-1}
queries=${QUERIES:-q1 q2 q5 q7 agg session q5_60}
systems=${SYSTEMS:-raw weir kstreams}
guarantees=${GUARANTEES:-at_least_once exactly_once}
lat_queries=${LAT_QUERIES-q1 q7}
seed=${SEED:-42}
build=${BUILD:-$root/build-e2e}
weir=${WEIR:-}
ks_jar=${KSTREAMS_JAR:-$root/bench/kstreams/target/weir-bench-kstreams.jar}
ks_java_opts=${KS_JAVA_OPTS--Xmx1g}
drain_timeout=${DRAIN_TIMEOUT:-900}
out=${OUT:-$root/bench/RESULTS.md}
work=${WORK:-$(mktemp -d /tmp/weir-e2e.XXXXXX)}
export WEIR_KAFKA_PORT=${WEIR_KAFKA_PORT:-49092}
export WEIR_KAFKA_DIR=$work/kafka
bootstrap=127.0.0.1:$WEIR_KAFKA_PORT
kafka=$root/scripts/kafka.sh
results=$work/results.jsonl
mkdir -p "$work/logs" "$work/runs" "$work/out" "$work/state"
: >"$results"

log() { printf '[%s] e2e: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# --- processes --------------------------------------------------------------

# Processes started in the background and not yet reaped (a reaped pid is
# dropped at once, so that a recycled pid is never signalled).
declare -A running=()
cleanup() {
  local pid
  for pid in "${!running[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  "$kafka" stop >/dev/null 2>&1 || true
  if [[ -n ${KEEP:-} ]]; then
    log "work directory kept: $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# stop_pid PID: SIGTERM, then SIGKILL after 60 s.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 600; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "running[$pid]"
}

# --- build -------------------------------------------------------------------

[[ -x $py ]] && "$py" -c 'import confluent_kafka' 2>/dev/null ||
  die "$py with confluent_kafka is needed (scripts/install-deps.sh)"
log "work directory $work"
targets=(weir_e2e_gen weir_e2e_raw weir_e2e_latency)
[[ -z $weir ]] && targets+=(weir)
log "building ${targets[*]} in $build"
if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DWEIR_BUILD_TESTS=OFF -DWEIR_BUILD_BENCH=OFF \
    >"$work/logs/cmake.log" 2>&1 || { tail -n 30 "$work/logs/cmake.log" >&2; die "cmake failed"; }
fi
cmake --build "$build" -j2 --target "${targets[@]}" >"$work/logs/build.log" 2>&1 ||
  { tail -n 30 "$work/logs/build.log" >&2; die "build failed"; }
weir=${weir:-$build/weir}
tools=$build/bench/e2e

ks_reason=
if [[ " $systems " == *" kstreams "* ]]; then
  if [[ -x $root/bench/kstreams/build.sh && -z ${KSTREAMS_JAR:-} ]]; then
    log "building the Kafka Streams peer (bench/kstreams/build.sh)"
    "$root/bench/kstreams/build.sh" >"$work/logs/kstreams-build.log" 2>&1 ||
      ks_reason="bench/kstreams/build.sh failed (see its log)"
  fi
  if [[ -z $ks_reason && ! -f $ks_jar ]]; then
    ks_reason="no Kafka Streams jar at $ks_jar"
  fi
  if [[ -n $ks_reason ]]; then
    log "SKIPPING Kafka Streams: $ks_reason"
    systems=${systems//kstreams/}
  fi
fi

# --- broker and data ---------------------------------------------------------

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$kafka" start >&2
# Event times are in 2023: without retention.ms=-1 the broker's 7-day time
# retention would delete the loaded records at its next check.
topic() { "$kafka" topic-create "$1" "$partitions" retention.ms=-1 >/dev/null; }

declare -A load_time
for workload in nexmark clicks; do
  topic "$workload"
  t0=$(date +%s.%N)
  "$tools/weir_e2e_gen" load --bootstrap "$bootstrap" --workload "$workload" --topic "$workload" \
    --events "$events" --seed "$seed" 2>"$work/logs/load-$workload.log" ||
    { cat "$work/logs/load-$workload.log" >&2; die "loading $workload failed"; }
  load_time[$workload]=$(awk -v a="$t0" -v b="$(date +%s.%N)" -v n="$events" \
    'BEGIN { printf "%.1f s, %.0fk events/s", b - a, n / (b - a) / 1000 }')
  log "loaded $events $workload events in ${load_time[$workload]}"
done

input_of() {
  case $1 in
  agg | session) echo clicks ;;
  *) echo nexmark ;;
  esac
}

# start_processor QUERY SYSTEM GUARANTEE ID INPUT OUTPUT: starts it in the
# background; sets $pid and $launched.
start_processor() {
  local q=$1 system=$2 guarantee=$3 id=$4 input=$5 output=$6
  launched=$(date +%s.%N)
  case $system in
  weir)
    local file=$q size=10s advance=2s
    [[ $q == q5_60 ]] && file=q5 size=60s advance=1s
    PIPELINE=$id INPUT=$input OUTPUT=$output GUARANTEE=$guarantee HOP_SIZE=$size HOP_ADVANCE=$advance \
      "$weir" run "$here/pipelines/$file.yaml" --bootstrap-servers "$bootstrap" \
      --state-dir "$work/state/$id" --metrics-listen '' --threads "$threads" --log-level warn \
      >"$work/logs/$id.log" 2>&1 &
    ;;
  kstreams)
    local g=$guarantee
    [[ $g == exactly_once ]] && g=exactly_once_v2
    # shellcheck disable=SC2086 # options are words
    java $ks_java_opts -jar "$ks_jar" --bootstrap "$bootstrap" --query "$q" --guarantee "$g" \
      --threads "$threads" --input "$input" --output "$output" --application-id "$id" \
      --state-dir "$work/state/$id" >"$work/logs/$id.log" 2>&1 &
    ;;
  raw)
    "$tools/weir_e2e_raw" --bootstrap "$bootstrap" --input "$input" --output "$output" \
      --group "$id" --threads "$threads" >"$work/logs/$id.log" 2>&1 &
    ;;
  esac
  pid=$!
  running[$pid]=1
}

# result KIND JSON FIELDS...: appends one line to the results.
result() {
  "$py" -c 'import json, sys; r = json.loads(sys.argv[2]); r.update(json.loads(sys.argv[3])); r["kind"] = sys.argv[1]; print(json.dumps(r))' \
    "$@" >>"$results"
}

declare -A dumped
# throughput_run QUERY SYSTEM GUARANTEE REP
throughput_run() {
  local q=$1 system=$2 guarantee=$3 rep=$4
  local id=e2e-$q-$system-${guarantee//_/-}-$rep input output
  input=$(input_of "$q")
  output=$id-out
  topic "$output"
  start_processor "$q" "$system" "$guarantee" "$id" "$input" "$output"
  local json rc=0
  json=$("$py" "$here/e2e.py" drain --bootstrap "$bootstrap" --group "$id" --input "$input" \
    --pid "$pid" --members "$threads" --launched "$launched" --timeout "$drain_timeout") || rc=$?
  [[ -n $json ]] || json='{"ok":false,"error":"no measurement"}'
  stop_pid "$pid"
  result run "$json" "{\"query\":\"$q\",\"system\":\"$system\",\"guarantee\":\"$guarantee\",\"rep\":$rep}"
  if ((rc == 0)); then
    log "$q $system $guarantee #$rep: $("$py" -c 'import json,sys; r=json.loads(sys.argv[1]); print("%.1fk ev/s, %.2f CPU-s/M, %.0f MiB peak RSS" % (r["throughput"] / 1000, r["cpu_per_m"], r["hwm_mb"]))' "$json")"
  else
    log "$q $system $guarantee #$rep: FAILED: $json (log: $work/logs/$id.log)"
    tail -n 5 "$work/logs/$id.log" >&2 || true
  fi
  # Outputs of the first repetition are kept for the checks.
  if ((rep == 1 && rc == 0)); then
    if [[ $system == raw ]]; then
      local n
      n=$("$py" "$here/e2e.py" count --bootstrap "$bootstrap" --topic "$output" --expect "$events")
      result check "$n" "{\"what\":\"count\",\"query\":\"raw\",\"a_label\":\"input\",\"b_label\":\"the raw loop\"}"
    else
      "$py" "$here/e2e.py" dump --bootstrap "$bootstrap" --topic "$output" \
        --out "$work/out/$q-$system-$guarantee.txt" >"$work/out/$q-$system-$guarantee.json" &&
        dumped[$q-$system-$guarantee]=1
    fi
  fi
  "$py" "$here/e2e.py" cleanup --bootstrap "$bootstrap" --prefix "$id" >/dev/null || true
  rm -rf "$work/state/$id"
}

# --- throughput runs ---------------------------------------------------------

has() { [[ " $1 " == *" $2 "* ]]; }
for ((rep = 1; rep <= reps; rep++)); do
  log "repetition $rep of $reps"
  if has "$systems" raw; then
    throughput_run raw raw at_least_once "$rep"
  fi
  for q in $queries; do
    for guarantee in $guarantees; do
      for system in weir kstreams; do
        has "$systems" "$system" || continue
        # q5_60 is weir's size/advance comparison, at-least-once only.
        [[ $q == q5_60 && ($system != weir || $guarantee != at_least_once) ]] && continue
        throughput_run "$q" "$system" "$guarantee" "$rep"
      done
    done
  done
done

# --- correctness ---------------------------------------------------------------

label() {
  local system=$1 guarantee=$2 s
  case $system in weir) s=weir ;; kstreams) s="Kafka Streams" ;; esac
  echo "$s ${guarantee//_/-}"
}
for q in $queries; do
  ref=$q-weir-at_least_once
  [[ -n ${dumped[$ref]:-} ]] || continue
  for other in weir-exactly_once kstreams-at_least_once kstreams-exactly_once; do
    [[ -n ${dumped[$q-$other]:-} ]] || continue
    # When a window closes (for the trailing-window rule of `e2e.py compare`):
    # window_end + max_out_of_orderness, plus the gap for sessions.
    close=()
    case $q in
    q5 | q7 | agg) close=(--close-offset-ms 2000 --partitions "$partitions") ;;
    session) close=(--close-offset-ms 7000 --partitions "$partitions") ;;
    esac
    json=$("$py" "$here/e2e.py" compare "$work/out/$ref.txt" "$work/out/$q-$other.txt" "${close[@]}")
    result check "$json" "{\"what\":\"compare\",\"query\":\"$q\",\"a_label\":\"$(label weir at_least_once)\",\"b_label\":\"$(label "${other%%-*}" "${other#*-}")\"}"
    log "check $q: weir at_least_once vs $other: $json"
  done
done

# --- latency -----------------------------------------------------------------

if [[ -n $lat_queries && -n $lat_rates ]]; then
  for q in $lat_queries; do
    for rate in $lat_rates; do
      for system in raw weir kstreams; do
        has "$systems" "$system" || continue
        [[ $system == raw && $q != q1 ]] && continue
        id=e2e-lat-$q-$system-$rate
        input=$id-in
        output=$id-out
        topic "$input"
        topic "$output"
        start_processor "$q" "$system" at_least_once "$id" "$input" "$output"
        # Windowed results come in bursts, one per window: measure longer.
        seconds=$lat_seconds
        [[ $q == q1 || $q == q2 ]] || seconds=$((2 * lat_seconds))
        rc=0
        "$py" "$here/e2e.py" ready --bootstrap "$bootstrap" --group "$id" --pid "$pid" \
          --members "$threads" --launched "$launched" --timeout 120 >/dev/null || rc=$?
        if ((rc == 0)); then
          "$tools/weir_e2e_latency" --bootstrap "$bootstrap" --topic "$output" \
            --seconds "$seconds" --warmup-s "$lat_warmup" --close-delay-ms 2000 \
            >"$work/runs/$id.json" 2>"$work/logs/$id-latency.log" &
          lat_pid=$!
          running[$lat_pid]=1
          "$tools/weir_e2e_gen" live --bootstrap "$bootstrap" --workload "$(input_of "$q")" \
            --topic "$input" --rate "$rate" --seconds $((lat_warmup + seconds + 1)) --seed "$seed" \
            2>"$work/logs/$id-gen.log" || rc=$?
          wait "$lat_pid" || rc=$?
          unset "running[$lat_pid]"
        fi
        stop_pid "$pid"
        if ((rc == 0)); then
          json=$(tail -n 1 "$work/runs/$id.json")
          json=$("$py" -c 'import json,sys; r=json.loads(sys.argv[1]); r["ok"]=r["count"]>0; r.update({} if r["ok"] else {"error": "no result seen in the measured interval"}); print(json.dumps(r))' "$json")
        else
          json='{"ok":false,"error":"run failed"}'
        fi
        result latency "$json" "{\"query\":\"$q\",\"system\":\"$system\",\"guarantee\":\"at_least_once\",\"rate\":$rate}"
        log "latency $q $system at $rate ev/s: $json"
        "$py" "$here/e2e.py" cleanup --bootstrap "$bootstrap" --prefix "$id" >/dev/null || true
        rm -rf "$work/state/$id"
      done
      # Windowed queries: one offered load.
      [[ $q == q1 || $q == q2 ]] || break
    done
  done
fi

# --- report ------------------------------------------------------------------

commit=${WEIR_COMMIT:-$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)}
if [[ -z ${WEIR:-} ]] && [[ -n $(git -C "$root" status --porcelain -- src include 2>/dev/null) ]]; then
  commit+=" with uncommitted changes under src/ or include/"
elif [[ -n ${WEIR:-} && -z ${WEIR_COMMIT:-} ]]; then
  commit="unknown (WEIR=$WEIR given; the tree is at $commit)"
fi
weir_build="$("$weir" version 2>/dev/null | head -n 1), $weir"
ks_version=none
if has "$systems" kstreams; then
  ks_version=$(grep -ho 'kafka-streams [0-9][0-9.]*' "$work"/logs/e2e-*kstreams*.log 2>/dev/null | head -n 1 || true)
  ks_version="${ks_version:-unknown} ($(basename "$ks_jar"))"
else
  ks_version="not run: ${ks_reason:-not selected}"
fi
# The command line that reproduces this run: the sizes, and any list knob given.
quick_prefix=
[[ $quick == 1 ]] && quick_prefix="QUICK=1 "
for knob in QUERIES SYSTEMS GUARANTEES LAT_QUERIES LAT_RATES; do
  [[ -n ${!knob+set} ]] && quick_prefix+="$knob='${!knob}' "
done
mode="QUICK=1 smoke run: EVENTS=$events, REPS=$reps — too small for conclusions"
[[ $quick == 1 ]] || mode="full run: EVENTS=$events, REPS=$reps"
"$py" - "$work/meta.json" <<EOF
import json, sys
json.dump({
  "date": "$(date -u +%Y-%m-%d)",
  "mode": "$mode",
  "note": """${NOTE:-}""",
  "cpu": "$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)",
  "cores": $(nproc),
  "memory": "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)",
  "load_before": "$load_before",
  "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)",
  "command": "${quick_prefix}EVENTS=$events PARTITIONS=$partitions THREADS=$threads REPS=$reps bench/e2e/run.sh",
  "weir_commit": "$commit",
  "weir_build": "$weir_build",
  "librdkafka": "$(pkg-config --modversion rdkafka 2>/dev/null || echo unknown)",
  "broker": "$("$kafka" status | sed -n 's/.*version=\([^ ]*\).*/\1/p')",
  "kstreams": "$ks_version",
  "java": "$(java -version 2>&1 | head -n 1 | tr -d '"')",
  "ks_java_opts": "$ks_java_opts",
  "events": $events, "partitions": $partitions, "threads": $threads, "reps": $reps, "seed": $seed,
  "load_nexmark": "${load_time[nexmark]}", "load_clicks": "${load_time[clicks]}",
  "queries": ["raw"] + "$queries".split(),
}, open(sys.argv[1], "w"), indent=1)
EOF
"$py" "$here/e2e.py" report --results "$results" --meta "$work/meta.json" --out "$out"
cp "$results" "$work/meta.json" "$work/logs/" 2>/dev/null || true
log "wrote $out"
