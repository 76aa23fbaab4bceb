"""Changelog topics (DESIGN.md §5): every stateful step logs its checkpointed
state to `<pipeline>.<step-id>.changelog`, so a partition's state follows it
to a process that has none. Here a pipeline with a dedupe and a window runs,
stops, loses its state directory, and the input it already read is deleted
from the topic (replay is impossible); restarted, it restores from the
changelogs and its results are exactly those of a single uninterrupted run
(exactly_once, read with read_committed)."""
import ctypes
import json
import random
import re
import shutil
import subprocess
import time

from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource

from conftest import consume_all, create_topics, http_get, produce, unique
from test_accounting import metric

PARTITIONS = 3
SIZE = 10_000
LATENESS = 1_000
OOO = 1_000
BASE = 1_700_000_000_000

PIPELINE = """
pipeline: {name}
source:
  topic: {source}
  partitioned_by: user
  event_time: {{field: ts, format: epoch_ms}}
  watermark: {{max_out_of_orderness: 1s}}
steps:
  - id: once
    dedupe:
      key: '[user, id]'
      within: 1h
  - id: totals
    window:
      group_by: [user]
      tumbling: 10s
      allowed_lateness: 1s
      aggregate:
        n: count()
        total: sum(amount)
sink:
  topic: {sink}
processing:
  guarantee: exactly_once
  commit_interval: 200ms
"""


def make_pipeline(tmp_path, bootstrap):
    name, source, sink = unique("clog"), unique("clog-in"), unique("clog-out")
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, sink=sink))
    create_topics(bootstrap, {source: PARTITIONS, sink: 1})
    return path, name, source, sink


def generate(seed, per_partition):
    """Per partition, records in increasing event time; about a fifth repeat
    an (user, id) seen before, many of them from the first half."""
    rng = random.Random(seed)
    parts = {}
    for p in range(PARTITIONS):
        users = [f"u{p}-{i}" for i in range(3)]
        t = BASE
        seen = []
        values = []
        for i in range(per_partition):
            t += rng.randint(50, 250)
            if seen and rng.random() < 0.2:
                user, ident = rng.choice(seen)
            else:
                user, ident = rng.choice(users), f"e{p}-{i}"
                seen.append((user, ident))
            values.append({"user": user, "id": ident, "ts": t, "amount": rng.randint(1, 100)})
        parts[p] = values
    return parts


def closer(p, ts):
    # Far ahead on its partition: closes every window before it.
    return {"user": f"u{p}-0", "id": f"closer-{p}", "ts": ts, "amount": 0}


def model(parts):
    """Window results a single run emits: first of each (user, id), summed per
    user and 10 s window, for every window the partition's watermark closes."""
    out = {}
    for p, values in parts.items():
        seen = set()
        acc = {}
        wm = max(v["ts"] for v in values) - OOO
        for v in values:
            if (v["user"], v["id"]) in seen:
                continue
            seen.add((v["user"], v["id"]))
            start = v["ts"] // SIZE * SIZE
            n, total = acc.get((v["user"], start), (0, 0))
            acc[(v["user"], start)] = (n + 1, total + v["amount"])
        for (user, start), (n, total) in acc.items():
            if wm >= start + SIZE + LATENESS:
                out[(user, start)] = {"n": n, "total": total}
    return out


def send(bootstrap, topic, parts):
    produce(bootstrap, topic, [(p, v["user"], json.dumps(v), v["ts"])
                               for p, values in parts.items() for v in values])


def committed(bootstrap, group, topic):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        offs = c.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return {o.partition: o.offset for o in offs}
    finally:
        c.close()


def wait_committed(bootstrap, group, topic, want, timeout=90):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = committed(bootstrap, group, topic)
        if all(got.get(p, -1) >= n for p, n in want.items()):
            return got
        time.sleep(0.5)
    raise AssertionError(f"committed offsets {committed(bootstrap, group, topic)}, want {want}")


def delete_records(bootstrap, topic, before):
    """Deletes the records of each partition before `before[p]` (the Kafka
    DeleteRecords API, through librdkafka's C API)."""
    rk_lib = ctypes.CDLL("librdkafka.so.1")
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    for name, res, args in [
            ("rd_kafka_conf_new", vp, []),
            ("rd_kafka_conf_set", ctypes.c_int, [vp, cp, cp, cp, ctypes.c_size_t]),
            ("rd_kafka_new", vp, [ctypes.c_int, vp, cp, ctypes.c_size_t]),
            ("rd_kafka_topic_partition_list_new", vp, [ctypes.c_int]),
            ("rd_kafka_topic_partition_list_add", vp, [vp, cp, ctypes.c_int32]),
            ("rd_kafka_topic_partition_list_set_offset", ctypes.c_int,
             [vp, cp, ctypes.c_int32, ctypes.c_int64]),
            ("rd_kafka_DeleteRecords_new", vp, [vp]),
            ("rd_kafka_queue_new", vp, [vp]),
            ("rd_kafka_DeleteRecords", None, [vp, ctypes.POINTER(vp), ctypes.c_size_t, vp, vp]),
            ("rd_kafka_queue_poll", vp, [vp, ctypes.c_int]),
            ("rd_kafka_event_error", ctypes.c_int, [vp]),
            ("rd_kafka_event_error_string", cp, [vp]),
            ("rd_kafka_event_destroy", None, [vp]),
            ("rd_kafka_queue_destroy", None, [vp]),
            ("rd_kafka_DeleteRecords_destroy", None, [vp]),
            ("rd_kafka_topic_partition_list_destroy", None, [vp]),
            ("rd_kafka_destroy", None, [vp])]:
        f = getattr(rk_lib, name)
        f.restype, f.argtypes = res, args
    err = ctypes.create_string_buffer(512)
    conf = rk_lib.rd_kafka_conf_new()
    assert rk_lib.rd_kafka_conf_set(conf, b"bootstrap.servers", bootstrap.encode(), err, 512) == 0
    rk = rk_lib.rd_kafka_new(0, conf, err, 512)
    assert rk, err.value
    parts = rk_lib.rd_kafka_topic_partition_list_new(len(before))
    for p, off in before.items():
        rk_lib.rd_kafka_topic_partition_list_add(parts, topic.encode(), p)
        rk_lib.rd_kafka_topic_partition_list_set_offset(parts, topic.encode(), p, off)
    dr = rk_lib.rd_kafka_DeleteRecords_new(parts)
    q = rk_lib.rd_kafka_queue_new(rk)
    arr = (vp * 1)(dr)
    rk_lib.rd_kafka_DeleteRecords(rk, arr, 1, None, q)
    ev = rk_lib.rd_kafka_queue_poll(q, 30000)
    assert ev, "no answer to DeleteRecords"
    code = rk_lib.rd_kafka_event_error(ev)
    msg = rk_lib.rd_kafka_event_error_string(ev)
    rk_lib.rd_kafka_event_destroy(ev)
    rk_lib.rd_kafka_queue_destroy(q)
    rk_lib.rd_kafka_DeleteRecords_destroy(dr)
    rk_lib.rd_kafka_topic_partition_list_destroy(parts)
    rk_lib.rd_kafka_destroy(rk)
    assert code == 0, msg
    # The first offsets moved: the deleted input is gone for good.
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("low")})
    try:
        for p, off in before.items():
            low, _ = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            assert low == off, (p, low, off)
    finally:
        c.close()


def results(records):
    out = {}
    for r in records:
        v = r["value"]
        k = (v["user"], v["window_start"])
        assert k not in out, f"window {k} emitted twice"
        out[k] = {"n": v["n"], "total": v["total"]}
    return out


def test_state_is_restored_from_changelogs_when_input_is_gone(tmp_path, bootstrap, weir):
    path, name, source, sink = make_pipeline(tmp_path, bootstrap)
    parts = generate(seed=5, per_partition=800)
    first = {p: v[: len(v) // 2] for p, v in parts.items()}
    second = {p: v[len(v) // 2:] + [closer(p, v[-1]["ts"] + 60_000)] for p, v in parts.items()}
    everything = {p: first[p] + second[p] for p in parts}
    want = model(everything)
    assert len(want) > 50

    send(bootstrap, source, first)
    w = weir(path, state_dir=tmp_path / "a")
    offsets = wait_committed(bootstrap, name, source, {p: len(v) for p, v in first.items()})
    assert w.stop() == 0, w.log_text()

    # No local state and no input before the committed offsets.
    shutil.rmtree(tmp_path / "a")
    delete_records(bootstrap, source, offsets)

    send(bootstrap, source, second)
    w = weir(path, state_dir=tmp_path / "b", metrics_listen="127.0.0.1:0")
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=120, idle=4)
    log = w.log_text()
    port = re.search(r"serving metrics .*port=(\d+)", log).group(1)
    ready, _ = http_get(f"http://127.0.0.1:{port}/readyz")
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert w.stop() == 0, log
    assert "state restored from the changelog" in log, log
    assert ready == 200 and status == 200
    # Restored from the changelogs alone: no input was replayed.
    assert metric(body, "weir_changelog_records_restored_total", pipeline=name) > 0, body
    assert metric(body, "weir_restore_records_total", pipeline=name) == 0, body
    assert metric(body, "weir_restoring_partitions", pipeline=name) == 0, body
    got = results(records)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = [(k, got[k], want[k]) for k in want if k in got and got[k] != want[k]]
    assert not missing and not extra and not wrong, (
        f"missing {missing[:5]}, extra {extra[:5]}, wrong (got, want) {wrong[:5]}")


def test_changelog_topics_are_created_compacted_partition_for_partition(tmp_path, bootstrap,
                                                                         weir):
    path, name, source, sink = make_pipeline(tmp_path, bootstrap)
    w = weir(path, state_dir=tmp_path / "s")
    topics = [f"{name}.once.changelog", f"{name}.totals.changelog"]
    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.time() + 60
    while time.time() < deadline:
        md = admin.list_topics(timeout=10)
        if all(t in md.topics for t in topics):
            break
        time.sleep(0.5)
    assert w.stop() == 0, w.log_text()
    md = admin.list_topics(timeout=10)
    for t in topics:
        assert t in md.topics, (t, sorted(md.topics))
        assert len(md.topics[t].partitions) == PARTITIONS
        res = ConfigResource(ConfigResource.Type.TOPIC, t)
        conf = admin.describe_configs([res])[res].result(30)
        assert conf["cleanup.policy"].value == "compact"
        assert conf["segment.bytes"].value == "67108864"


def test_a_changelog_with_the_wrong_partition_count_stops_the_start(tmp_path, bootstrap,
                                                                   weir_bin):
    path, name, source, sink = make_pipeline(tmp_path, bootstrap)
    create_topics(bootstrap, {f"{name}.totals.changelog": 1})
    out = subprocess.run([weir_bin, "run", str(path), "--bootstrap-servers", bootstrap,
                          "--state-dir", str(tmp_path / "s"), "--metrics-listen", ""],
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 1
    assert f"topic {name}.totals.changelog has 1 partitions, weir needs 3" in out.stderr, out.stderr


def test_a_changelog_that_deletes_by_time_stops_the_start(tmp_path, bootstrap, weir_bin):
    """A changelog created by hand with cleanup.policy=delete would lose the
    state of keys not updated within its retention: weir names the setting
    and how to change it, and starts once it is changed."""
    path, name, source, sink = make_pipeline(tmp_path, bootstrap)
    topic = f"{name}.totals.changelog"
    create_topics(bootstrap, {topic: PARTITIONS})  # cleanup.policy=delete, the default
    run = [weir_bin, "run", str(path), "--bootstrap-servers", bootstrap,
           "--state-dir", str(tmp_path / "s"), "--metrics-listen", ""]
    out = subprocess.run(run, capture_output=True, text=True, timeout=90)
    assert out.returncode == 1
    assert (f"{topic} has cleanup.policy=delete, weir needs cleanup.policy=compact"
            in out.stderr), out.stderr
    assert f"--entity-name {topic} --add-config cleanup.policy=compact" in out.stderr, out.stderr

    admin = AdminClient({"bootstrap.servers": bootstrap})
    res = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"cleanup.policy": "compact"})
    admin.alter_configs([res])[res].result(30)
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.time() + 60
        seen = ""
        while time.time() < deadline and "worker started" not in seen:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
        assert "worker started" in seen, seen
    finally:
        proc.terminate()
        proc.wait(60)


def test_local_state_the_changelog_lacks_is_logged_in_full(tmp_path, bootstrap, weir):
    """State from before changelogs (here: changelog topics deleted while the
    state directory kept its state) is logged in full at the next start, so
    a later restore from the changelogs alone is exact."""
    path, name, source, sink = make_pipeline(tmp_path, bootstrap)
    parts = generate(seed=8, per_partition=600)
    thirds = [{p: v[i * len(v) // 3:(i + 1) * len(v) // 3] for p, v in parts.items()}
              for i in range(3)]
    thirds[2] = {p: v + [closer(p, v[-1]["ts"] + 60_000)] for p, v in thirds[2].items()}
    want = model({p: thirds[0][p] + thirds[1][p] + thirds[2][p] for p in parts})
    state = tmp_path / "a"

    send(bootstrap, source, thirds[0])
    w = weir(path, state_dir=state)
    wait_committed(bootstrap, name, source, {p: len(v) for p, v in thirds[0].items()})
    assert w.stop() == 0, w.log_text()
    admin = AdminClient({"bootstrap.servers": bootstrap})
    logs = [f"{name}.once.changelog", f"{name}.totals.changelog"]
    for f in admin.delete_topics(logs).values():
        f.result(30)
    deadline = time.time() + 60
    while any(t in admin.list_topics(timeout=10).topics for t in logs):
        assert time.time() < deadline, "changelog topics not deleted"
        time.sleep(0.5)

    # Same state directory: its state is current and logged in full.
    send(bootstrap, source, thirds[1])
    w = weir(path, state_dir=state)
    offsets = wait_committed(bootstrap, name, source,
                             {p: len(thirds[0][p]) + len(thirds[1][p]) for p in parts})
    assert w.stop() == 0, w.log_text()
    assert "state logged to the changelog in full" in w.log_text()

    shutil.rmtree(state)
    delete_records(bootstrap, source, offsets)
    send(bootstrap, source, thirds[2])
    w = weir(path, state_dir=tmp_path / "b")
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=120, idle=4)
    assert w.stop() == 0, w.log_text()
    got = results(records)
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    wrong = [(k, got[k], want[k]) for k in want if k in got and got[k] != want[k]]
    assert not missing and not extra and not wrong, (
        f"missing {missing[:5]}, extra {extra[:5]}, wrong (got, want) {wrong[:5]}")
