#!/usr/bin/python3
"""Measuring, checking and reporting for bench/e2e/run.sh.

Commands (each prints one JSON object on stdout unless stated):
  drain   wait until a processor's consumer group has joined (ready) and then
          until its committed offsets reach the end of the input topic;
          sample the process's CPU time at both moments and its peak RSS
  ready   only wait until the group has joined
  dump    read an output topic from the beginning (read_committed) and write
          its records as sorted canonical lines "key<TAB>json" to a file
  count   the number of records in a topic (sum of end - start offsets)
  compare compare two dumps as multisets of records
  report  write bench/RESULTS.md from the run's JSON lines

Needs confluent_kafka (Debian's python3-confluent-kafka): run with /usr/bin/python3.
"""

import argparse
import collections
import json
import math
import os
import statistics
import sys
import time

from confluent_kafka import Consumer, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def partitions_of(consumer, topic):
    md = consumer.list_topics(topic, timeout=10)
    t = md.topics.get(topic)
    if t is None or t.error is not None:
        sys.exit(f"e2e.py: no topic {topic}")
    return sorted(t.partitions)


def group_joined(admin, group, members):
    try:
        groups = admin.list_groups(group=group, timeout=5)
    except Exception:  # the coordinator may not know the group yet
        return False
    for g in groups:
        if g.id == group and g.state == "Stable" and len(g.members) >= members:
            return True
    return False


def wait_ready(args, admin, deadline):
    while time.time() < deadline:
        if not alive(args.pid):
            return None
        if group_joined(admin, args.group, args.members):
            return time.time()
        time.sleep(0.1)
    return None


def cmd_ready(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    t = wait_ready(args, admin, time.time() + args.timeout)
    print(json.dumps({"ok": t is not None, "ready_s": (t - args.launched) if t else None}))
    return 0 if t else 1


def cmd_drain(args):
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": args.group,
                  "enable.auto.commit": False})
    parts = [TopicPartition(args.input, p) for p in partitions_of(c, args.input)]
    ends = {tp.partition: c.get_watermark_offsets(tp, timeout=10)[1] for tp in parts}
    total = sum(ends.values())
    deadline = time.time() + args.timeout
    result = {"ok": False, "events": total}
    t_ready = wait_ready(args, admin, deadline)
    if t_ready is None:
        result["error"] = "exited" if not alive(args.pid) else "group never joined"
        print(json.dumps(result))
        return 1
    cpu_ready = proc_cpu_seconds(args.pid)
    result["ready_s"] = round(t_ready - args.launched, 3)
    done = 0
    while time.time() < deadline:
        if not alive(args.pid):
            result["error"] = "exited"
            break
        committed = c.committed(parts, timeout=10)
        done = sum(max(tp.offset, 0) for tp in committed)
        if done >= total:
            t = time.time()
            cpu = proc_cpu_seconds(args.pid)
            drain = t - t_ready
            result.update({
                "ok": True,
                "drain_s": round(drain, 3),
                "throughput": total / drain,
                "cpu_s": round(cpu - cpu_ready, 3),
                "cpu_total_s": round(cpu, 3),
                "cpu_per_m": (cpu - cpu_ready) / total * 1e6,
                "events_per_cpu_s": total / max(cpu - cpu_ready, 1e-9),
                "hwm_mb": proc_status_kb(args.pid, "VmHWM") / 1024,
                "threads_os": proc_status_kb(args.pid, "Threads"),
            })
            break
        time.sleep(0.1)
    else:
        result["error"] = f"timed out with {done} of {total} committed"
    c.close()
    print(json.dumps(result))
    return 0 if result["ok"] else 1


def canonical_number(x):
    x = round(float(x), 6)
    return int(x) if x.is_integer() else x


def canonical(value):
    obj = json.loads(value, parse_float=canonical_number, parse_int=canonical_number)
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def read_topic(bootstrap, topic, on_message):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"e2e-dump-{os.getpid()}",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": "read_committed"})
    parts = partitions_of(c, topic)
    c.assign([TopicPartition(topic, p, -2) for p in parts])
    pending = set(parts)
    idle_since = time.time()
    while pending and time.time() - idle_since < 30:
        for m in c.consume(num_messages=10000, timeout=1):
            idle_since = time.time()
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    pending.discard(m.partition())
                    continue
                sys.exit(f"e2e.py: reading {topic}: {m.error()}")
            on_message(m)
    c.close()
    return not pending


def cmd_dump(args):
    lines = []
    bad = 0

    def add(m):
        nonlocal bad
        key = (m.key() or b"").decode("utf-8", "replace")
        try:
            lines.append(key + "\t" + canonical(m.value()))
        except ValueError:
            bad += 1
            lines.append(key + "\t!" + (m.value() or b"").decode("utf-8", "replace"))

    complete = read_topic(args.bootstrap, args.topic, add)
    lines.sort()
    with open(args.out, "w") as f:
        for line in lines:
            f.write(line + "\n")
    print(json.dumps({"records": len(lines), "complete": complete, "not_json": bad}))
    return 0


def cmd_count(args):
    c = Consumer({"bootstrap.servers": args.bootstrap, "group.id": "e2e-count"})
    n = 0
    for p in partitions_of(c, args.topic):
        lo, hi = c.get_watermark_offsets(TopicPartition(args.topic, p), timeout=10)
        n += hi - lo
    c.close()
    result = {"records": n}
    if args.expect is not None:
        result.update(a=args.expect, b=n, equal=n == args.expect)
    print(json.dumps(result))
    return 0


def cmd_cleanup(args):
    """Deletes the topics named PREFIX or PREFIX-* (outputs, Kafka Streams' internal topics)."""
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    names = [t for t in admin.list_topics(timeout=10).topics
             if t == args.prefix or t.startswith(args.prefix + "-")]
    if names:
        for name, future in admin.delete_topics(names, operation_timeout=30).items():
            try:
                future.result()
            except Exception as e:  # already gone
                print(f"e2e.py: deleting {name}: {e}", file=sys.stderr)
    print(json.dumps({"deleted": names}))
    return 0


def murmur2_partition(key, partitions):
    """The partition Java's default partitioner (and librdkafka's murmur2) picks for a key."""
    data = key.encode("utf-8")
    m, n = 0x5BD1E995, len(data)
    h = (0x9747B28C ^ n) & 0xFFFFFFFF
    for i in range(0, n - n % 4, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = n - n % 4
    rem = n % 4
    if rem == 3:
        h ^= data[tail + 2] << 16
    if rem >= 2:
        h ^= data[tail + 1] << 8
    if rem >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return (h & 0x7FFFFFFF) % partitions


def cmd_compare(args):
    with open(args.a) as f:
        a = f.read().splitlines()
    with open(args.b) as f:
        b = f.read().splitlines()
    result = {"a": len(a), "b": len(b)}
    if a == b:
        result.update(equal=True, only_a=0, only_b=0, trailing_a=0, trailing_b=0)
        print(json.dumps(result))
        return 0
    ca, cb = collections.Counter(a), collections.Counter(b)
    only_a, only_b = ca - cb, cb - ca
    trailing_a = trailing_b = 0
    if args.close_offset_ms is not None:
        # A processor stopped at the end of the input may not have emitted the
        # windows that closed last (Kafka Streams checks for closed windows
        # at most once per emit interval, and only when a record arrives).
        # Results only one side has, of windows that close after the last
        # window the other side closed on the same input partition, are
        # counted as trailing, not as differences.
        def closes(line):
            key, value = line.split("\t", 1)
            return murmur2_partition(key, args.partitions), json.loads(value)["window_end"] + args.close_offset_ms

        def last_closed(lines):
            last = collections.defaultdict(lambda: -1)
            for line in lines:
                p, c = closes(line)
                last[p] = max(last[p], c)
            return last

        last_a, last_b = last_closed(ca), last_closed(cb)

        def split(only, other_last):
            trailing = collections.Counter()
            for line, n in only.items():
                p, c = closes(line)
                if c > other_last[p]:
                    trailing[line] = n
            return only - trailing, sum(trailing.values())

        only_a, trailing_a = split(only_a, last_b)
        only_b, trailing_b = split(only_b, last_a)
    result.update(equal=not only_a and not only_b, only_a=sum(only_a.values()),
                  only_b=sum(only_b.values()), trailing_a=trailing_a, trailing_b=trailing_b,
                  examples_a=sorted(only_a)[:3], examples_b=sorted(only_b)[:3])
    print(json.dumps(result))
    return 0


# --- report -------------------------------------------------------------------

GUARANTEE_LABEL = {"at_least_once": "at-least-once", "exactly_once": "exactly-once"}
SYSTEM_LABEL = {"weir": "weir", "kstreams": "Kafka Streams", "raw": "raw librdkafka loop"}
WINDOWED = ["q5", "q7", "agg", "session"]
STATELESS = ["q1", "q2"]


def med(values):
    return statistics.median(values) if values else None


def spread(values, fmt):
    if not values:
        return "–"
    m = med(values)
    if len(values) == 1:
        return fmt(m)
    return f"{fmt(m)} ({fmt(min(values))}–{fmt(max(values))})"


def fmt_k(x):
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def fmt_1(x):
    return f"{x:.1f}"


def fmt_0(x):
    return f"{x:.0f}"


def pct(x):
    return f"{100 * x:.0f} %"


def cmd_report(args):
    with open(args.meta) as f:
        meta = json.load(f)
    runs, checks, latencies = [], [], []
    with open(args.results) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            {"run": runs, "check": checks, "latency": latencies}[r["kind"]].append(r)

    def select(query, system, guarantee, field):
        return [r[field] for r in runs if r["query"] == query and r["system"] == system
                and r["guarantee"] == guarantee and r.get("ok") and field in r]

    def failures(query, system, guarantee):
        return [r for r in runs if r["query"] == query and r["system"] == system
                and r["guarantee"] == guarantee and not r.get("ok")]

    out = []
    w = out.append
    w("# End-to-end benchmark results\n")
    w(f"Produced by `bench/e2e/run.sh` on {meta['date']} ({meta['mode']}). "
      "Every figure below comes from that one run; the command, its settings and "
      "what each column means are in `bench/e2e/README.md`.\n")
    if meta.get("command"):
        w(f"Reproduce with `{meta['command']}` (see that README for every knob).\n")
    if meta.get("note"):
        w(meta["note"] + "\n")
    w("## Machine and versions\n")
    w(f"- Machine: {meta['cpu']}, {meta['cores']} cores, {meta['memory']} RAM; "
      f"load average {meta['load_before']} before the run"
      + (f" and {meta['load_after']} after it" if meta.get("load_after") else "")
      + ": other work shared the machine. The broker, the processor under test and "
      "the harness share these cores, so drain throughput is bounded by the broker "
      "and by contention; CPU per event is the steadier measure.")
    w(f"- weir {meta['weir_commit']} ({meta['weir_build']}); librdkafka {meta['librdkafka']}; "
      f"Apache Kafka broker {meta['broker']} (one local KRaft node, `scripts/kafka.sh`).")
    w(f"- Kafka Streams: {meta['kstreams']}; Java: {meta['java']}; "
      f"JVM options: `{meta['ks_java_opts'] or '(none: JVM defaults)'}`.")
    w("")
    w("## Settings\n")
    w(f"- Input: {meta['events']:,} events per topic (`nexmark`, `clicks`), "
      f"{meta['partitions']} partitions, seed {meta['seed']}, loaded once before "
      f"any timing (nexmark load {meta.get('load_nexmark', '?')}, clicks load "
      f"{meta.get('load_clicks', '?')}). Data, keys and queries: `bench/WORKLOADS.md`.")
    w(f"- Threads: weir `--threads {meta['threads']}`, Kafka Streams "
      f"`num.stream.threads={meta['threads']}`, raw loop {meta['threads']} "
      "consumer/producer pair(s).")
    w(f"- Repetitions: {meta['reps']}; figures are medians with the min–max "
      "spread in parentheses. Runs are interleaved (each repetition runs every "
      "query, system and guarantee in turn).")
    w("- Each run starts the processor from the beginning of the input with a fresh "
      "consumer group, output topic and state directory. **Throughput** is input "
      "events / (time the group's committed offsets reached the end of the input − "
      "time the group first became Stable with every member joined): JVM start-up "
      "and group join are excluded, the commit interval (weir 1 s) bounds the "
      "resolution. **CPU/M** is the processor process's user+system CPU seconds "
      "over the same span (`/proc/PID/stat`, all threads) per million input events; "
      "**ev/CPU-s** is its inverse, throughput per core. **Peak RSS** is VmHWM at the "
      "end of the drain.")
    w("")

    systems_present = sorted({(r["system"], r["guarantee"]) for r in runs},
                             key=lambda sg: (["raw", "weir", "kstreams"].index(sg[0]),
                                             sg[1]))
    queries = [q for q in meta["queries"] if any(r["query"] == q for r in runs)]
    w("## Throughput, CPU and memory\n")
    for q in queries:
        w(f"### {q}\n")
        w("| system | guarantee | throughput (ev/s) | CPU s per M events | ev/CPU-s | peak RSS (MiB) | runs ok |")
        w("|---|---|---|---|---|---|---|")
        for system, guarantee in systems_present:
            tp = select(q, system, guarantee, "throughput")
            fails = failures(q, system, guarantee)
            if not tp and not fails:
                continue
            w(f"| {SYSTEM_LABEL[system]} | {GUARANTEE_LABEL[guarantee]} | {spread(tp, fmt_k)} | "
              f"{spread(select(q, system, guarantee, 'cpu_per_m'), fmt_1)} | "
              f"{spread(select(q, system, guarantee, 'events_per_cpu_s'), fmt_k)} | "
              f"{spread(select(q, system, guarantee, 'hwm_mb'), fmt_0)} | "
              f"{len(tp)}/{len(tp) + len(fails)} |")
            for r in fails[:1]:
                w(f"|  | ↳ failed: {r.get('error', '?')} | | | | | |")
        w("")

    w("## Correctness\n")
    if not checks:
        w("No output was checked.\n")
    for c in checks:
        if c["what"] == "count":
            verdict = "equal" if c["equal"] else "**differs**"
            w(f"- {c['query']}: {c['b_label']} wrote {c['b']:,} records for {c['a']:,} input events: {verdict}.")
        else:
            trailing = ""
            if c.get("trailing_a") or c.get("trailing_b"):
                trailing = (f" up to the last window each input partition closed in both; beyond it, "
                            f"{c.get('trailing_a', 0):,} trailing result(s) only in the first and "
                            f"{c.get('trailing_b', 0):,} only in the second, of windows that closed in the "
                            f"last moments of the input and were not yet emitted when the other processor "
                            f"was stopped")
            if c["equal"]:
                w(f"- {c['query']}: {c['b_label']} output equals {c['a_label']}'s "
                  f"({c['a']:,} vs {c['b']:,} records){trailing}.")
            else:
                w(f"- {c['query']}: {c['b_label']} output **differs** from {c['a_label']}'s: "
                  f"{c['a']:,} vs {c['b']:,} records, {c['only_a']:,} only in the first, "
                  f"{c['only_b']:,} only in the second{(' (besides trailing windows: ' + trailing.strip() + ')') if trailing else ''}; "
                  f"e.g. `{(c.get('examples_a') or [''])[0][:160]}` / "
                  f"`{(c.get('examples_b') or [''])[0][:160]}`.")
    w("")

    if latencies:
        w("## End-to-end latency\n")
        w("The generator produces at a fixed offered rate with `ts` = the wall clock "
          "into a fresh topic while the processor runs; a consumer of the output "
          "(read_committed) measures, for each record seen after a warm-up, the "
          "time seen − a reference: for q1 the record's `ts` (producer timestamp to "
          "output), for windowed results `window_end` + 2 s (the earliest moment the "
          "window can close, when the watermark of max_out_of_orderness 2 s passes "
          "its end): latency after window close, measured twice as long since "
          "results come in one burst per window. At-least-once, one run each.\n")
        w("| query | system | guarantee | offered (ev/s) | results measured | p50 (ms) | p99 (ms) | max (ms) |")
        w("|---|---|---|---|---|---|---|---|")
        for r in latencies:
            if r.get("ok"):
                w(f"| {r['query']} | {SYSTEM_LABEL[r['system']]} | {GUARANTEE_LABEL[r['guarantee']]} | "
                  f"{r['rate']:,} | {r['count']:,} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['max_ms']:.0f} |")
            else:
                w(f"| {r['query']} | {SYSTEM_LABEL[r['system']]} | {GUARANTEE_LABEL[r['guarantee']]} | "
                  f"{r['rate']:,} | failed: {r.get('error', '?')} | | | |")
        w("")

    w("## DESIGN §8 budgets\n")
    lines = budgets(select, queries)
    out.extend(lines)
    w("")
    with open(args.out, "w") as f:
        f.write("\n".join(out).rstrip() + "\n")
    return 0


def budgets(select, queries):
    out = []
    w = out.append
    ALO, EO = "at_least_once", "exactly_once"

    def ratio_line(label, num, den, target, higher_better=True, unit="×"):
        if num is None or den is None or den == 0:
            return f"- {label}: not measured."
        r = num / den
        met = r >= target if higher_better else r <= target
        verdict = "**met**" if met else "**not met**"
        if unit == "%":
            val, tgt = f"{100 * r:.0f} %", f"{100 * target:.0f} %"
        else:
            val, tgt = f"{r:.2f}×", f"{target:g}×"
        gap = ""
        if not met:
            gap = (f", short by {abs(target - r) / target * 100:.0f} % of the target"
                   if higher_better else f", over by {abs(r - target) / target * 100:.0f} % of the target")
        return f"- {label}: {val} (target {'≥' if higher_better else '≤'} {tgt}): {verdict}{gap}."

    raw = med(select("raw", "raw", ALO, "throughput"))
    w("**Stateless at ≥ 80 % of the raw loop** (drain throughput, at-least-once, same client settings):")
    raw_cpu = med(select("raw", "raw", ALO, "cpu_per_m"))
    for q in STATELESS:
        if q in queries:
            w(ratio_line(f"{q}: weir / raw", med(select(q, "weir", ALO, "throughput")), raw, 0.8, unit="%"))
            weir_cpu = med(select(q, "weir", ALO, "cpu_per_m"))
            if weir_cpu and raw_cpu:
                w(f"  (CPU per event: weir {weir_cpu / raw_cpu:.1f}× the raw loop's)")
    w("")
    w("**Windowed ≥ 3× Kafka Streams' throughput per core at ≤ ¼ of its memory** "
      "(per core = events per CPU-second of the processor; the drain throughput "
      "ratio, on a machine whose cores the broker shares, is given alongside):")
    for q in WINDOWED:
        if q not in queries:
            continue
        for g in (ALO, EO):
            weir_eff = med(select(q, "weir", g, "events_per_cpu_s"))
            ks_eff = med(select(q, "kstreams", g, "events_per_cpu_s"))
            if ks_eff is None:
                w(f"- {q} ({GUARANTEE_LABEL[g]}): Kafka Streams not measured.")
                continue
            w(ratio_line(f"{q} ({GUARANTEE_LABEL[g]}) per core, weir / Kafka Streams", weir_eff, ks_eff, 3))
            wt, kt = med(select(q, "weir", g, "throughput")), med(select(q, "kstreams", g, "throughput"))
            if wt and kt:
                w(f"  (drain throughput ratio {wt / kt:.2f}×)")
            w(ratio_line(f"{q} ({GUARANTEE_LABEL[g]}) peak RSS, weir / Kafka Streams",
                         med(select(q, "weir", g, "hwm_mb")), med(select(q, "kstreams", g, "hwm_mb")),
                         0.25, higher_better=False, unit="%"))
    w("")
    w("**exactly_once ≥ 85 % of at_least_once** (weir, drain throughput):")
    for q in queries:
        if q == "raw":
            continue
        eo, alo = med(select(q, "weir", EO, "throughput")), med(select(q, "weir", ALO, "throughput"))
        if eo is not None and alo is not None:
            w(ratio_line(f"{q}", eo, alo, 0.85, unit="%"))
    w("")
    w("**Hopping cost independent of size / advance** (weir, at-least-once, CPU per "
      "event of q5 with 60 s / 1 s (ratio 60) over q5 with 10 s / 2 s (ratio 5); "
      "counted as met within 25 %; q5_60 emits twice as many results per event):")
    a, b = med(select("q5_60", "weir", ALO, "cpu_per_m")), med(select("q5", "weir", ALO, "cpu_per_m"))
    w(ratio_line("CPU per event, ratio 60 / ratio 5", a, b, 1.25, higher_better=False))
    at, bt = med(select("q5_60", "weir", ALO, "throughput")), med(select("q5", "weir", ALO, "throughput"))
    if at and bt:
        w(f"  (drain throughput ratio 60 / 5: {at / bt:.2f}×)")
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("drain", "ready"):
        s = sub.add_parser(name)
        s.add_argument("--bootstrap", required=True)
        s.add_argument("--group", required=True)
        s.add_argument("--input")
        s.add_argument("--pid", type=int, required=True)
        s.add_argument("--members", type=int, default=1)
        s.add_argument("--launched", type=float, required=True)
        s.add_argument("--timeout", type=float, default=600)
    s = sub.add_parser("dump")
    s.add_argument("--bootstrap", required=True)
    s.add_argument("--topic", required=True)
    s.add_argument("--out", required=True)
    s = sub.add_parser("count")
    s.add_argument("--bootstrap", required=True)
    s.add_argument("--topic", required=True)
    s.add_argument("--expect", type=int)
    s = sub.add_parser("cleanup")
    s.add_argument("--bootstrap", required=True)
    s.add_argument("--prefix", required=True)
    s = sub.add_parser("compare")
    s.add_argument("a")
    s.add_argument("b")
    s.add_argument("--close-offset-ms", type=int,
                   help="windowed results: a window closes at window_end + this")
    s.add_argument("--partitions", type=int, default=1)
    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--meta", required=True)
    s.add_argument("--out", required=True)
    args = p.parse_args()
    return {"drain": cmd_drain, "ready": cmd_ready, "dump": cmd_dump, "count": cmd_count,
            "compare": cmd_compare, "cleanup": cmd_cleanup, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
