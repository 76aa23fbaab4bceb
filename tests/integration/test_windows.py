"""End to end against the real broker: a tumbling-window pipeline over three
partitions, compared exactly with the independent model in model.py."""
import json
import random
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT, consume_all, create_topics, http_get, metrics_port, produce, unique
from model import summarize, tumbling

SIZE = 10_000
LATENESS = 2_000
OOO = 1_000
BASE = 1_700_000_000_000  # a multiple of SIZE

PIPELINE = """
pipeline: {name}
source:
  topic: {source}
  partitioned_by: user
  event_time: {{field: ts, format: epoch_ms}}
  watermark: {{max_out_of_orderness: 1s}}
steps:
  - filter: kind == "buy" and amount >= 0
  - id: spend
    window:
      group_by: [user]
      tumbling: 10s
      allowed_lateness: 2s
      aggregate:
        n: count()
        total: sum(amount)
        low: min(amount)
        high: max(amount)
        mean: avg(amount)
sink:
  topic: {sink}
errors:
  dead_letter_topic: {dlq}
processing:
  commit_interval: {commit}
"""


def write_pipeline(tmp_path, commit="200ms"):
    name, source, sink = unique("spend"), unique("buys"), unique("spend-out")
    dlq = unique("buys-dlq")
    create_topics_args = {source: 3, sink: 1, dlq: 1}
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, sink=sink, commit=commit, dlq=dlq))
    return path, source, sink, create_topics_args


def dlq_of(topics):
    return next(t for t in topics if t.startswith("buys-dlq"))


def expected(partitions):
    results, late = tumbling(
        partitions, size=SIZE, lateness=LATENESS, ooo=OOO,
        accept=lambda e: e.get("kind") == "buy" and isinstance(e.get("amount"), (int, float))
        and e["amount"] >= 0,
        group=lambda e: e["user"], value_of=lambda e: e.get("amount"))
    out = {}
    for (user, start), values in results.items():
        s = summarize(values)
        out[(user, start)] = {"user": user, "window_start": start, "window_end": start + SIZE,
                              "n": s["count"], "total": s["sum"], "low": s["min"],
                              "high": s["max"], "mean": s["avg"]}
    return out, late


def as_results(records):
    """Output records keyed by (user, window_start); repeats must agree."""
    out = {}
    for r in records:
        v = r["value"]
        k = (v["user"], v["window_start"])
        assert r["key"] == v["user"]
        assert r["timestamp"] == v["window_end"] - 1
        assert list(v) == ["user", "window_start", "window_end", "n", "total", "low", "high", "mean"]
        if k in out:
            assert out[k] == v, f"a repeated result differs: {out[k]} vs {v}"
        out[k] = v
    return out


def assert_same(actual, want):
    assert set(actual) == set(want), (
        f"missing: {sorted(set(want) - set(actual))[:5]} extra: {sorted(set(actual) - set(want))[:5]}")
    for k, w in want.items():
        a = actual[k]
        for field in ("n", "total", "low", "high"):
            assert a[field] == w[field], f"{k} {field}: {a[field]} != {w[field]}"
        assert a["mean"] == pytest.approx(w["mean"]), k


def consume_raw(bootstrap, topic, count, timeout=30):
    """Reads `count` records of `topic` with raw value bytes and headers."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("raw"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    out, deadline = [], time.time() + timeout
    while len(out) < count and time.time() < deadline:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        out.append({"value": m.value(), "key": m.key(), "headers": dict(m.headers() or [])})
    c.close()
    return out


def hand_written_events():
    """A small set with every case named: in order, out of order within the
    bound, late beyond lateness, filtered, malformed."""
    p0 = [  # user a
        {"ts": BASE + 1_000, "user": "a", "kind": "buy", "amount": 5},
        {"ts": BASE + 9_999, "user": "a", "kind": "buy", "amount": 7},
        {"ts": BASE + 4_000, "user": "a", "kind": "view", "amount": 100},  # filtered out
        {"ts": BASE + 10_500, "user": "a", "kind": "buy", "amount": 1},  # next window
        {"ts": BASE + 9_000, "user": "a", "kind": "buy", "amount": 3},   # out of order, in time
        {"ts": BASE + 13_000, "user": "a", "kind": "buy", "amount": 2},  # wm 12000: [0,10s) closes
        {"ts": BASE + 8_000, "user": "a", "kind": "buy", "amount": 1000},  # late: dropped
        "{not json",
        {"user": "a", "kind": "buy", "amount": 4},  # no event time
        {"ts": BASE + 40_000, "user": "a", "kind": "tick", "amount": 0},  # closes [10s,20s)
    ]
    p1 = [  # users b and c
        {"ts": BASE + 2_000, "user": "b", "kind": "buy", "amount": 10},
        {"ts": BASE + 3_000, "user": "c", "kind": "buy", "amount": 20},
        {"ts": BASE + 2_500, "user": "b", "kind": "buy", "amount": 30},
        {"ts": BASE + 2_600, "user": "b", "kind": "buy"},  # no amount: `null >= 0` is false
        {"ts": BASE + 25_000, "user": "c", "kind": "buy", "amount": 1},  # still open at the end
        {"ts": BASE + 45_000, "user": "b", "kind": "tick", "amount": 0},
    ]
    p2 = [  # user d: never reaches the close of its window
        {"ts": BASE + 5_000, "user": "d", "kind": "buy", "amount": 1},
    ]
    enc = lambda e: e if isinstance(e, str) else json.dumps(e)
    return {0: [enc(e) for e in p0], 1: [enc(e) for e in p1], 2: [enc(e) for e in p2]}


def produce_partitions(bootstrap, topic, partitions):
    recs = []
    for p, values in partitions.items():
        for v in values:
            try:
                e = json.loads(v)
                key = e.get("user")
                ts = e.get("ts", BASE) if isinstance(e.get("ts"), int) else BASE
            except ValueError:
                key, ts = None, BASE
            recs.append((p, key, v, ts))
    produce(bootstrap, topic, recs)


def test_broker_is_the_pinned_version():
    out = subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "status"], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    pinned = re.search(r"^readonly KAFKA_VERSION=(\S+)$",
                       (ROOT / "scripts" / "kafka.sh").read_text(), re.M).group(1)
    assert pinned.startswith("3.9."), "librdkafka 2.0.2 needs a 3.9.x or >= 4.1 broker"
    assert f"version={pinned}" in out.stdout


def test_exact_windows_with_out_of_order_late_and_malformed(tmp_path, bootstrap, weir):
    path, source, sink, topics = write_pipeline(tmp_path)
    create_topics(bootstrap, topics)
    parts = hand_written_events()
    produce_partitions(bootstrap, source, parts)
    want, late = expected(parts)
    # The model agrees with the hand-computed answer for this set.
    assert want == {
        ("a", BASE): {"user": "a", "window_start": BASE, "window_end": BASE + SIZE, "n": 3,
                      "total": 15, "low": 3, "high": 7, "mean": 5},
        ("a", BASE + SIZE): {"user": "a", "window_start": BASE + SIZE,
                             "window_end": BASE + 2 * SIZE, "n": 2, "total": 3, "low": 1,
                             "high": 2, "mean": 1.5},
        ("b", BASE): {"user": "b", "window_start": BASE, "window_end": BASE + SIZE, "n": 2,
                      "total": 40, "low": 10, "high": 30, "mean": 20},
        ("c", BASE): {"user": "c", "window_start": BASE, "window_end": BASE + SIZE, "n": 1,
                      "total": 20, "low": 20, "high": 20, "mean": 20},
        ("c", BASE + 2 * SIZE): {"user": "c", "window_start": BASE + 2 * SIZE,
                                 "window_end": BASE + 3 * SIZE, "n": 1, "total": 1, "low": 1,
                                 "high": 1, "mean": 1},
    }
    assert late == 1

    w = weir(path, metrics_listen="127.0.0.1:0")
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=60, idle=3)
    assert w.stop() == 0, w.log_text()
    actual = as_results(records)
    assert_same(actual, want)
    assert len(records) == len(want), "a clean run emits each window once"
    log = w.log_text()
    assert "error=invalid_json" in log and "error=missing_field" in log
    # Malformed records are in the dead-letter topic with their original bytes
    # and where and why they failed.
    dead = consume_raw(bootstrap, dlq_of(topics), 2)
    assert [d["value"] for d in dead] == [parts[0][7].encode(), parts[0][8].encode()]
    for d, code, offset in zip(dead, ["invalid_json", "missing_field"], [7, 8]):
        h = d["headers"]
        assert h["weir.error.code"] == code.encode()
        assert h["weir.error.step"] == b"source"
        assert h["weir.source.topic"] == source.encode()
        assert h["weir.source.partition"] == b"0"
        assert h["weir.source.offset"] == str(offset).encode()
        assert h["weir.error.message"]


def test_metrics_and_health_while_running(tmp_path, bootstrap, weir):
    path, source, sink, topics = write_pipeline(tmp_path)
    create_topics(bootstrap, topics)
    parts = hand_written_events()
    produce_partitions(bootstrap, source, parts)
    w = weir(path, metrics_listen="127.0.0.1:0")
    port = metrics_port(w)
    consume_all(bootstrap, sink, min_count=5, timeout=60, idle=1)
    deadline = time.time() + 20
    while True:
        status, body = http_get(f"http://127.0.0.1:{port}/metrics")
        consumed = re.search(r'^weir_records_consumed_total\{[^}]*\} (\d+)', body, re.M)
        if status == 200 and consumed and int(consumed.group(1)) == 17:
            break
        assert time.time() < deadline, body
        time.sleep(0.5)
    name = path.read_text().split("pipeline: ")[1].split()[0]
    assert f'weir_records_produced_total{{pipeline="{name}",topic="{sink}"}} 5' in body
    assert f'weir_late_records_total{{pipeline="{name}",step="spend"}} 1' in body
    assert f'weir_windows_emitted_total{{pipeline="{name}",step="spend"}} 5' in body
    assert re.search(r'^weir_checkpoint_duration_seconds_count\{[^}]*\} [1-9]', body, re.M)
    assert re.search(r'^weir_record_errors_total\{[^}]*error="invalid_json"[^}]*\} 1', body, re.M)
    assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    assert http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200
    assert w.stop() == 0


def test_two_worker_threads_share_the_partitions_exactly(tmp_path, bootstrap, weir):
    path, source, sink, topics = write_pipeline(tmp_path)
    create_topics(bootstrap, topics)
    parts = random_partitions(seed=3, per_partition=1500)
    want, _ = expected(parts)
    w = weir(path, extra_args=["--threads", "2"])
    # Both group members hold partitions before any record arrives.
    deadline = time.time() + 60
    while not all(f"-weir-{i} topic=" in w.log_text() for i in (0, 1)):
        assert time.time() < deadline, w.log_text()
        time.sleep(0.2)
    produce_partitions(bootstrap, source, parts)
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=90, idle=3)
    assert w.stop() == 0, w.log_text()
    assert_same(as_results(records), want)
    assert len(records) == len(want), "a clean run emits each window once"


def random_partitions(seed, per_partition, users_per_partition=4, partitions=3):
    """Records per partition in offset order: mostly increasing time, some out
    of order within and beyond the bound, some filtered, a few malformed."""
    rng = random.Random(seed)
    parts = {}
    for p in range(partitions):
        users = [f"u{p}-{i}" for i in range(users_per_partition)]
        t = BASE
        values = []
        for _ in range(per_partition):
            t += rng.randint(0, 400)
            r = rng.random()
            ts = t - rng.randint(0, 4_000) if r < 0.08 else t
            if r > 0.995:
                values.append('{"ts": oops')
                continue
            e = {"ts": ts, "user": rng.choice(users),
                 "kind": "buy" if rng.random() < 0.8 else "view",
                 "amount": rng.randint(0, 1000)}
            values.append(json.dumps(e))
        # Close every window: a record far ahead on each partition.
        values.append(json.dumps({"ts": t + 60_000, "user": users[0], "kind": "tick", "amount": 0}))
        parts[p] = values
    return parts


def test_kill9_and_restart_keeps_every_window_exact(tmp_path, bootstrap, weir):
    path, source, sink, topics = write_pipeline(tmp_path, commit="100ms")
    create_topics(bootstrap, topics)
    parts = random_partitions(seed=11, per_partition=6000)
    want, late = expected(parts)
    assert len(want) > 100 and late > 0

    # Records arrive in slices while the worker is killed and restarted on its
    # state directory, so kills land mid-stream and during checkpoints. A
    # stable --instance-id lets each restart take the partitions at once;
    # without it, the group would wait for the killed member's session to
    # time out (45 s) and the restarts in between would never hold a partition.
    rng = random.Random(5)
    state = tmp_path / "state"
    slices = 8
    kills = 0
    for i in range(slices):
        chunk = {p: v[i * len(v) // slices:(i + 1) * len(v) // slices] for p, v in parts.items()}
        produce_partitions(bootstrap, source, chunk)
        w = weir(path, state_dir=state, extra_args=["--instance-id", "kill9-0"])
        time.sleep(rng.uniform(0.3, 2.5))
        if i < slices - 1:
            w.kill9()
            kills += 1
        else:
            records = consume_all(bootstrap, sink, min_count=len(want), timeout=120, idle=3)
            assert w.stop() == 0, w.log_text()
    assert kills == slices - 1
    actual = as_results(records)
    assert_same(actual, want)


def test_validate_reports_file_line_and_column(tmp_path, weir_bin):
    bad = tmp_path / "bad.yaml"
    bad.write_text("""pipeline: broken
source:
  topic: clicks
  partitioned_by: user
  event_time: {field: ts}
steps:
  - filter: amount > > 3
  - id: per-user
    window:
      group_by: [user]
      tumbling: 1 minute
      aggregate: {n: count(), s: median(amount)}
sink: {topic: out, colour: blue}
""")
    out = subprocess.run([weir_bin, "validate", str(bad)], capture_output=True, text=True)
    assert out.returncode == 1
    lines = out.stdout.strip().splitlines()
    assert lines == [
        f"{bad}:7:22: filter: unexpected '>'",
        f"{bad}:11:17: tumbling: invalid duration '1 minute': unknown unit ' minute'",
        f"{bad}:12:34: aggregate 's': unknown aggregate 'median' (known: count, sum, avg, min, max, first, last, "
        "count_distinct, percentile, top_k, collect)",
        f"{bad}:13:20: unknown key 'colour' in sink (expected one of: topic, key)",
    ], out.stdout
    ok = subprocess.run([weir_bin, "validate", str(ROOT / "pipelines" / "page-views.yaml")],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout


def test_sigterm_checkpoints_so_a_restart_repeats_nothing(tmp_path, bootstrap, weir):
    path, source, sink, topics = write_pipeline(tmp_path, commit="10s")
    create_topics(bootstrap, topics)
    parts = random_partitions(seed=8, per_partition=1200)
    want, _ = expected(parts)
    first = {p: v[: len(v) // 2] for p, v in parts.items()}
    second = {p: v[len(v) // 2:] for p, v in parts.items()}
    state = tmp_path / "state"

    # The commit interval is longer than the run: only the shutdown checkpoints.
    w = weir(path, state_dir=state)
    produce_partitions(bootstrap, source, first)
    before = consume_all(bootstrap, sink, min_count=1, timeout=60, idle=3)
    assert w.stop() == 0, w.log_text()

    w = weir(path, state_dir=state)
    produce_partitions(bootstrap, source, second)
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=90, idle=3)
    assert w.stop() == 0, w.log_text()
    assert len(before) > 0
    assert_same(as_results(records), want)
    assert len(records) == len(want), "a clean restart emits nothing twice"
