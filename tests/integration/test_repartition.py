"""Repartitioning (DESIGN.md §3 Grouping): a window grouped by a field the
source is not partitioned by reads through `<pipeline>.<step>.repartition`,
and its watermark is the lowest of the upstream tasks' watermarks, which
travel through that topic with the records.

The same input, spread over four partitions by user, is counted per region
(each region's records are in every partition) by two pipelines at once: one
`weir run` process alone, and two processes sharing the work, one of which is
killed with SIGKILL mid-run and started again. Both must give exactly the
windows a plain grouping of all records gives (exactly_once,
read_committed), so grouping is exact across partitions and processes.

No record can be late here: within a partition event times never fall more
than the out-of-orderness bound behind the latest, so a downstream watermark,
never above any upstream one, cannot pass a record's window before it comes.
"""
import json
import random
import re
import threading
import time

from conftest import consume_all, create_topics, http_get, produce, unique

PARTITIONS = 4
SIZE = 10_000
BASE = 1_700_000_000_000
REGIONS = ["eu", "us", "apac", "latam", "africa"]

PIPELINE = """
pipeline: {name}
source:
  topic: {source}
  partitioned_by: user
  event_time: {{field: ts, format: epoch_ms}}
  watermark: {{max_out_of_orderness: 2s}}
steps:
  - filter: kind == "buy"
  - id: by_region
    window:
      group_by: [region]
      tumbling: 10s
      aggregate:
        n: count()
        total: sum(amount)
        buyers: count_distinct(user)
sink:
  topic: {sink}
processing:
  guarantee: exactly_once
  commit_interval: 200ms
"""

EXTRA = ["--kafka-property", "consumer.session.timeout.ms=6000",
         "--kafka-property", "consumer.heartbeat.interval.ms=500",
         "--kafka-property", "producer.transaction.timeout.ms=5000"]


def make_input(seed, per_partition):
    """Per partition, records of users that hash to it, in event-time order
    with jitter below the out-of-orderness bound; then a record far ahead on
    every partition that closes every window."""
    rng = random.Random(seed)
    parts = {p: [] for p in range(PARTITIONS)}
    for p in range(PARTITIONS):
        t = BASE
        for i in range(per_partition):
            t += rng.randint(0, 400)
            user = f"u{p}-{rng.randint(0, 30)}"
            e = {"ts": t - rng.randint(0, 1_500), "user": user, "region": rng.choice(REGIONS),
                 "kind": "buy" if rng.random() < 0.9 else "view", "amount": rng.randint(1, 100)}
            parts[p].append(e)
        parts[p].append({"ts": BASE + 3_600_000, "user": f"u{p}-end", "region": "end",
                         "kind": "end", "amount": 0})
    return parts


def model(parts):
    want = {}
    for records in parts.values():
        for e in records:
            if e["kind"] != "buy":
                continue
            start = e["ts"] // SIZE * SIZE
            w = want.setdefault((e["region"], start), {"n": 0, "total": 0, "users": set()})
            w["n"] += 1
            w["total"] += e["amount"]
            w["users"].add(e["user"])
    return {k: {"region": k[0], "window_start": k[1], "window_end": k[1] + SIZE, "n": w["n"],
                "total": w["total"], "buyers": len(w["users"])} for k, w in want.items()}


def produce_slices(bootstrap, topic, parts, slices, pause):
    for s in range(slices):
        recs = []
        for p, records in parts.items():
            n = len(records)
            for e in records[s * n // slices:(s + 1) * n // slices]:
                recs.append((p, e["user"], json.dumps(e), e["ts"]))
        produce(bootstrap, topic, recs)
        time.sleep(pause)


def differences(records, want):
    seen = {}
    for r in records:
        v = r["value"]
        seen.setdefault((v.get("region"), v.get("window_start")), []).append(r)
    lines = []
    missing = sorted(set(want) - set(seen))
    if missing:
        lines.append(f"{len(missing)} windows missing (region, window_start): {missing[:10]}")
    extra = sorted(set(seen) - set(want))
    if extra:
        lines.append(f"{len(extra)} windows not in the model: {extra[:10]}")
    repeated = sorted(k for k, rs in seen.items() if len(rs) > 1)
    if repeated:
        lines.append(f"{len(repeated)} windows emitted more than once: {repeated[:10]}")
    wrong = []
    for k, rs in sorted(seen.items()):
        if k not in want:
            continue
        for r in rs:
            v = r["value"]
            diff = {f: (v.get(f), x) for f, x in want[k].items() if v.get(f) != x}
            if r["key"] != k[0]:
                diff["key"] = (r["key"], k[0])
            if diff:
                wrong.append((k, diff))
    if wrong:
        lines.append(f"{len(wrong)} results with wrong values {{field: (got, expected)}}: "
                     f"{wrong[:10]}")
    return lines


def topic_partitions(bootstrap, topic):
    from confluent_kafka.admin import AdminClient
    md = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    t = md.topics.get(topic)
    return len(t.partitions) if t and not t.error else None


def low_offsets(bootstrap, topic):
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("low")})
    try:
        return [c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0]
                for p in range(PARTITIONS)]
    finally:
        c.close()


def metric(text, name, **labels):
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_grouping_across_partitions_is_exact_alone_and_over_two_processes(
        tmp_path, bootstrap, weir):
    source = unique("clicks")
    create_topics(bootstrap, {source: PARTITIONS})
    parts = make_input(seed=7, per_partition=1500)
    want = model(parts)
    assert len(want) > 100

    runs = {}
    for run in ("alone", "shared"):
        name, sink = unique(f"regions-{run}"), unique(f"regions-{run}-out")
        create_topics(bootstrap, {sink: 1})
        path = tmp_path / f"{run}.yaml"
        path.write_text(PIPELINE.format(name=name, source=source, sink=sink))
        runs[run] = (name, sink, path)

    procs = {}

    def start(label, run, port=""):
        _, _, path = runs[run]
        procs[label] = weir(path, state_dir=tmp_path / f"state-{label}",
                            metrics_listen=f"127.0.0.1:{port}" if port else "",
                            extra_args=["--instance-id", label, *EXTRA], log=f"{label}.log")
        return procs[label]

    def logs():
        return "\n".join(f"--- {n}\n{p.log_text()[-5000:]}" for n, p in procs.items())

    port = 20000 + random.Random().randint(0, 5000)
    start("alone", "alone", port)
    start("a", "shared")
    start("b", "shared")
    time.sleep(3)
    produce_slices(bootstrap, source, {p: r[:len(r) // 2] for p, r in parts.items()}, 5, 0.3)
    # A crash while records flow through both stages; its restart takes
    # its partitions back, state restored from the changelogs.
    procs["b"].kill9()
    produce_slices(bootstrap, source,
                   {p: r[len(r) // 2:-1] for p, r in parts.items()}, 5, 0.3)
    start("b2", "shared")
    produce_slices(bootstrap, source, {p: r[-1:] for p, r in parts.items()}, 1, 0)

    results = {}
    for run, (name, sink, _) in runs.items():
        results[run] = consume_all(bootstrap, sink, min_count=len(want), timeout=120, idle=4)
    metrics_text = http_get(f"http://127.0.0.1:{port}/metrics")[1]
    for run, (name, sink, _) in runs.items():
        problems = differences(results[run], want)
        assert not problems, "\n".join(
            [f"{run}: {len(results[run])} results read, {len(want)} windows expected"]
            + problems + [logs()])
        assert topic_partitions(bootstrap, f"{name}.by_region.repartition") == PARTITIONS
    # Records went through the repartition topic, and nothing was late.
    alone = runs["alone"][0]
    buys = sum(1 for r in parts.values() for e in r if e["kind"] == "buy")
    written = metric(metrics_text, "weir_repartitioned_records_total", pipeline=alone)
    assert written == buys, metrics_text
    assert metric(metrics_text, "weir_late_records_total", pipeline=alone) == 0
    assert re.search(r"partition assigned .*topic=\S+\.by_region\.repartition",
                     procs["alone"].log_text())
    for label in ("alone", "a", "b2"):
        assert procs[label].stop(timeout=60) == 0, logs()
    # What the stages read is deleted from the repartition topic (at
    # the latest when the process stops).
    low = low_offsets(bootstrap, f"{alone}.by_region.repartition")
    assert all(o > 0 for o in low), low


def test_at_least_once_through_a_repartition_counts_no_record_twice_across_crashes(
        tmp_path, bootstrap, weir):
    """A worker killed with SIGKILL and restarted on its own state directory,
    three times while records flow: its upstream tasks write again what they
    wrote since their last checkpoint, and the window tasks must recognise
    those records. Every result may repeat, but each emission of a window
    has exactly the expected values."""
    source = unique("clicks")
    create_topics(bootstrap, {source: PARTITIONS})
    parts = make_input(seed=11, per_partition=1200)
    want = model(parts)
    name, sink = unique("regions-alo"), unique("regions-alo-out")
    create_topics(bootstrap, {sink: 1})
    path = tmp_path / "alo.yaml"
    text = PIPELINE.format(name=name, source=source, sink=sink)
    path.write_text(text.replace("guarantee: exactly_once", "guarantee: at_least_once")
                    .replace("commit_interval: 200ms", "commit_interval: 1s"))
    procs = []

    def start():
        procs.append(weir(path, extra_args=["--instance-id", "w", "--threads", "2", *EXTRA],
                          log="alo.log"))
        return procs[-1]

    rng = random.Random(11)
    start()
    time.sleep(3)
    body = {p: r[:-1] for p, r in parts.items()}
    slices = 12
    for s in range(slices):
        produce_slices(bootstrap, source,
                       {p: r[s * len(r) // slices:(s + 1) * len(r) // slices]
                        for p, r in body.items()}, 1, 0)
        if s in (3, 6, 9):
            time.sleep(rng.uniform(0.3, 1.5))
            procs[-1].kill9()
            start()
        time.sleep(0.3)
    produce_slices(bootstrap, source, {p: r[-1:] for p, r in parts.items()}, 1, 0)
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=120, idle=5)
    log = (tmp_path / "alo.log").read_text(errors="replace")
    seen = {}
    for r in records:
        v = r["value"]
        seen.setdefault((v["region"], v["window_start"]), []).append(v)
    missing = sorted(set(want) - set(seen))
    wrong = [(k, v) for k, vs in seen.items() for v in vs
             if k not in want or any(v.get(f) != x for f, x in want[k].items())]
    assert not missing and not wrong, (
        f"{len(missing)} windows missing: {missing[:10]}\n"
        f"{len(wrong)} emissions differ from the model: "
        f"{[(k, v, want.get(k)) for k, v in wrong[:5]]}\n{log[-6000:]}")
    assert log.count("worker started") >= 4 * 2
    assert procs[-1].stop(timeout=60) == 0, log[-6000:]


def test_exactly_once_through_a_repartition_under_repeated_kill9(tmp_path, bootstrap, weir):
    """Killed with SIGKILL ten times at random moments (mid-stream, during
    its 100 ms commits) and restarted on its state directory: a
    read_committed reader sees every window exactly once, exactly right."""
    source = unique("clicks")
    create_topics(bootstrap, {source: PARTITIONS})
    parts = make_input(seed=23, per_partition=1200)
    want = model(parts)
    name, sink = unique("regions-eos"), unique("regions-eos-out")
    create_topics(bootstrap, {sink: 1})
    path = tmp_path / "eos.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, sink=sink)
                    .replace("commit_interval: 200ms", "commit_interval: 100ms"))
    procs = []

    def start():
        procs.append(weir(path, extra_args=["--instance-id", "eos", "--threads", "2", *EXTRA],
                          log="eos.log"))
        return procs[-1]

    rng = random.Random(23)
    slices = 11
    body = {p: r[:-1] for p, r in parts.items()}
    for s in range(slices):
        w = start()
        chunk = {p: r[s * len(r) // slices:(s + 1) * len(r) // slices]
                 for p, r in body.items()}
        feeder = threading.Thread(target=produce_slices,
                                  args=(bootstrap, source, chunk, 8, 0.1))
        feeder.start()
        time.sleep(rng.uniform(0.5, 2.5))
        if s < slices - 1:
            w.kill9()
        feeder.join()
    produce_slices(bootstrap, source, {p: r[-1:] for p, r in parts.items()}, 1, 0)
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=180, idle=5)
    log = (tmp_path / "eos.log").read_text(errors="replace")
    problems = differences(records, want)
    assert not problems, "\n".join(
        [f"{len(records)} results read, {len(want)} windows expected"] + problems
        + [log[-6000:]])
    assert procs[-1].stop(timeout=60) == 0, log[-6000:]
