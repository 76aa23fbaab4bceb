"""Tables against the real broker: a compacted table topic (updates, a
tombstone, an invalid record) enriches a stream, including an update that
arrives while weir runs and a table_miss dead letter with its headers; a
restart resumes the table from its stored offsets; a file table is reloaded
when its file changes and keeps its rows when the new file is broken; /readyz
is 503 naming the table while a large table topic bootstraps, then 200."""
import json
import os
import re
import subprocess
import time
import urllib.error

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import consume_all, create_topics, http_get, metrics_port, produce, unique

PIPELINE = """
pipeline: {name}
source: {{topic: {source}}}
tables:
  merchants: {{topic: {table}}}
steps:
  - id: by-merchant
    enrich:
      table: merchants
      key: merchant_id
      fields: {{category: category, risk: risk.score}}
      on_miss: dead_letter
sink: {{topic: {sink}, key: payment_id}}
errors: {{dead_letter_topic: {dlq}}}
processing: {{commit_interval: 200ms}}
"""

FILE_PIPELINE = """
pipeline: {name}
source: {{topic: {source}}}
tables:
  fx: {{file: rates.csv, key: currency}}
steps:
  - map:
      eur: amount * lookup("fx", currency).rate
sink: {{topic: {sink}, key: id}}
processing: {{commit_interval: 200ms}}
"""


def create_compacted(bootstrap, topic, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1,
                                            config={"cleanup.policy": "compact"})])
    for f in futures.values():
        f.result(30)
    deadline = time.time() + 30
    while time.time() < deadline:
        md = admin.list_topics(timeout=10)
        if topic in md.topics and len(md.topics[topic].partitions) == partitions and all(
                p.leader >= 0 for p in md.topics[topic].partitions.values()):
            return
        time.sleep(0.2)
    raise TimeoutError(topic)


def metric(port, series):
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    for line in body.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def wait_for(what, predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise TimeoutError(what)


def payment(pid, merchant):
    return json.dumps({"payment_id": pid, "merchant_id": merchant, "amount": 10})


def row(category, risk):
    return json.dumps({"category": category, "risk": {"score": risk}})


def test_topic_table_enriches_a_stream_with_updates_tombstones_and_dead_letters(
        tmp_path, bootstrap, weir):
    name, source, table = unique("enrich"), unique("payments"), unique("merchants")
    sink, dlq = unique("enriched"), unique("payments-dlq")
    create_topics(bootstrap, {source: 2, sink: 1, dlq: 1})
    create_compacted(bootstrap, table, 2)
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, table=table, sink=sink, dlq=dlq))

    produce(bootstrap, table, [
        (0, "m1", row("grocery", 0.1), 1),
        (1, "m2", row("casino", 0.9), 2),
        (0, "m1", row("pharmacy", 0.2), 3),   # an update: the latest value wins
        (1, "m3", row("fuel", 0.3), 4),
        (1, "m3", None, 5),                   # a tombstone removes m3
        (0, "bad", "{not json", 6),           # logged, counted, skipped
    ])

    w = weir(path, metrics_listen="127.0.0.1:0")
    port = metrics_port(w)
    wait_for("ready", lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200)
    labels = f'{{pipeline="{name}",table="merchants"}}'
    assert metric(port, "weir_table_rows" + labels) == 2
    assert metric(port, "weir_table_updates_total" + labels) == 5
    assert metric(port,
                  f'weir_table_errors_total{{pipeline="{name}",table="merchants",'
                  f'error="invalid_record"}}') == 1

    produce(bootstrap, source, [
        (0, "p1", payment("p1", "m1"), 1000),
        (1, "p2", payment("p2", "m2"), 1001),
        (0, "p3", payment("p3", "m3"), 1002),
    ])
    out = consume_all(bootstrap, sink, min_count=2, timeout=60, idle=1)
    assert sorted((r["key"], r["value"]["category"], r["value"]["risk"]) for r in out) == [
        ("p1", "pharmacy", 0.2), ("p2", "casino", 0.9)]
    p1 = next(r for r in out if r["key"] == "p1")
    assert p1["value"] == {"payment_id": "p1", "merchant_id": "m1", "amount": 10,
                           "category": "pharmacy", "risk": 0.2}
    dead = consume_all(bootstrap, dlq, min_count=1, timeout=60, idle=1, raw=True)
    assert len(dead) == 1
    d = dead[0]
    assert d["key"] == "p3" and d["value"] == payment("p3", "m3").encode()
    assert d["timestamp"] == 1002
    h = d["headers"]
    assert h["weir.error.code"] == b"table_miss"
    assert h["weir.error.message"] == b"no row in table 'merchants' for key 'm3'"
    assert h["weir.error.step"] == b"by-merchant"
    assert h["weir.source.topic"] == source.encode()
    assert h["weir.source.partition"] == b"0"
    assert h["weir.source.offset"] == b"1"

    # Updates while running apply to the records after them.
    produce(bootstrap, table, [(1, "m2", row("bank", 0.4), 7), (1, "m3", row("fuel", 0.3), 8)])
    wait_for("the updates", lambda: metric(port, "weir_table_updates_total" + labels) == 7)
    assert metric(port, "weir_table_rows" + labels) == 3
    produce(bootstrap, source, [(1, "p4", payment("p4", "m2"), 2000),
                                (1, "p5", payment("p5", "m3"), 2001)])
    out = consume_all(bootstrap, sink, min_count=4, timeout=60, idle=1)
    assert [(r["key"], r["value"]["category"]) for r in out if r["key"] in ("p4", "p5")] == [
        ("p4", "bank"), ("p5", "fuel")]
    assert len(out) == 4
    assert w.stop() == 0, w.log_text()

    # A restart resumes the table from its stored offsets: nothing to re-read.
    w2 = weir(path, metrics_listen="127.0.0.1:0")
    port = metrics_port(w2, earlier=1)
    wait_for("ready again", lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200)
    assert metric(port, "weir_table_rows" + labels) == 3
    assert metric(port, "weir_table_updates_total" + labels) == 0
    starts = [line for line in w2.log_text().splitlines() if "table bootstrapping" in line]
    assert "stored_rows=3" in starts[-1] and "records_to_read=0" in starts[-1], starts
    assert w2.stop() == 0, w2.log_text()


TABLE_ROWS = 200_000


def fill_table(bootstrap, topic, partitions, rows):
    """`rows` small rows with distinct keys, spread over the partitions."""
    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 50,
                  "batch.num.messages": 10000, "queue.buffering.max.messages": rows,
                  "compression.type": "lz4"})
    value = row("grocery", 0.1)
    for i in range(rows):
        p.produce(topic, key=f"m{i}", value=value, partition=i % partitions)
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(60) == 0


def test_readyz_is_503_naming_the_table_while_it_bootstraps_then_200(tmp_path, bootstrap, weir):
    name, source, table = unique("boot"), unique("payments"), unique("merchants")
    sink, dlq = unique("enriched"), unique("payments-dlq")
    create_topics(bootstrap, {source: 2, sink: 1, dlq: 1})
    create_compacted(bootstrap, table, 2)
    fill_table(bootstrap, table, 2, TABLE_ROWS)
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, table=table, sink=sink, dlq=dlq))

    # Small fetches make the table reader take many round trips, so that the
    # bootstrap lasts long enough to be watched.
    w = weir(path, metrics_listen="127.0.0.1:0",
             extra_args=["--kafka-property", "consumer.max.partition.fetch.bytes=8192"])
    started = time.time()
    # The server starts before the table does: poll from the moment the log
    # names its port.
    deadline = started + 30
    port = None
    while port is None:
        found = re.findall(r"serving metrics.*port=(\d+)", w.log_text())
        if found:
            port = int(found[-1])
        else:
            assert w.alive(), w.log_text()
            assert time.time() < deadline, "weir did not serve metrics:\n" + w.log_text()
            time.sleep(0.01)

    seen = []  # (seconds since start, /healthz status, /readyz status, /readyz body)

    def observed():
        lines, last = [], None
        for t, h, s, b in seen:
            if (h, s, b) != last:
                lines.append(f"  {t:6.2f}s healthz {h} readyz {s} {b.strip()!r}")
                last = (h, s, b)
        return "observed sequence (repeats left out):\n" + "\n".join(lines) + (
            "\nlog:\n" + w.log_text())

    def poll():
        try:
            h = http_get(f"http://127.0.0.1:{port}/healthz")[0]
            s, b = http_get(f"http://127.0.0.1:{port}/readyz")
        except urllib.error.URLError as e:  # the process exited
            h, s, b = None, None, str(e.reason)
        seen.append((time.time() - started, h, s, b))
        return s, b

    while poll()[0] != 200:
        assert w.alive(), observed()
        assert time.time() < deadline, "not ready in time; " + observed()
        time.sleep(0.02)
    # Ready only once the table was read to the end offsets captured at start.
    assert "table bootstrapped" in w.log_text(), observed()
    labels = f'{{pipeline="{name}",table="merchants"}}'
    assert metric(port, "weir_table_rows" + labels) == TABLE_ROWS, observed()

    # Then the worker is assigned both source partitions and stays ready.
    assigned = f'weir_assigned_partitions{{pipeline="{name}"}}'
    while metric(port, assigned) != 2:
        assert poll()[0] == 200, observed()
        assert time.time() < deadline, "source partitions not assigned in time; " + observed()
        time.sleep(0.05)
    assert poll()[0] == 200, observed()

    assert all(h == 200 for _, h, _, _ in seen), "/healthz was not always 200; " + observed()
    statuses = [s for _, _, s, _ in seen]
    first_ready = statuses.index(200)
    assert all(s == 503 for s in statuses[:first_ready]), observed()
    assert all(s == 200 for s in statuses[first_ready:]), observed()
    left = [int(m.group(1)) for _, _, _, b in seen
            if (m := re.fullmatch(r"bootstrapping table merchants \((\d+) records left\)\n", b))]
    assert left, "no 503 named the bootstrapping table; " + observed()
    assert all(0 < n <= TABLE_ROWS for n in left), observed()
    assert left == sorted(left, reverse=True), "records left went up; " + observed()
    # Before the table and after it, the only other reason is the worker starting.
    others = {b for _, _, s, b in seen[:first_ready] if not b.startswith("bootstrapping table")}
    assert others <= {"starting\n"}, observed()
    assert time.time() - started < 30
    assert w.stop() == 0, w.log_text()


def write_file(path, text):
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_file_table_reloads_and_keeps_rows_on_a_broken_reload(tmp_path, bootstrap, weir):
    name, source, sink = unique("fx"), unique("orders"), unique("orders-eur")
    create_topics(bootstrap, {source: 1, sink: 1})
    path = tmp_path / "pipeline.yaml"
    path.write_text(FILE_PIPELINE.format(name=name, source=source, sink=sink))
    rates = tmp_path / "rates.csv"
    write_file(rates, "currency,rate\nUSD,0.9\nGBP,1.2\n")

    w = weir(path, metrics_listen="127.0.0.1:0")
    port = metrics_port(w)
    wait_for("ready", lambda: http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200)
    labels = f'{{pipeline="{name}",table="fx"}}'

    def order(i, currency):
        return json.dumps({"id": i, "amount": 10, "currency": currency})

    produce(bootstrap, source, [(0, "o1", order("o1", "USD"), 1), (0, "o2", order("o2", "EUR"), 2)])
    out = consume_all(bootstrap, sink, min_count=2, timeout=60, idle=1)
    assert [r["value"]["eur"] for r in out] == [9, None]

    write_file(rates, "currency,rate\nUSD,0.5\nEUR,1\n")
    wait_for("the reload", lambda: metric(port, "weir_table_updates_total" + labels) == 1)
    produce(bootstrap, source, [(0, "o3", order("o3", "USD"), 3), (0, "o4", order("o4", "EUR"), 4)])
    out = consume_all(bootstrap, sink, min_count=4, timeout=60, idle=1)
    assert [r["value"]["eur"] for r in out[2:]] == [5, 10]

    write_file(rates, 'currency,rate\nUSD,0.1\nEUR,"2\n')  # an unclosed quote
    errors = f'weir_table_errors_total{{pipeline="{name}",table="fx",error="reload_failed"}}'
    wait_for("the failed reload", lambda: metric(port, errors) == 1)
    produce(bootstrap, source, [(0, "o5", order("o5", "USD"), 5)])
    out = consume_all(bootstrap, sink, min_count=5, timeout=60, idle=1)
    assert out[4]["value"]["eur"] == 5  # the previous rows are kept
    assert metric(port, "weir_table_rows" + labels) == 2
    assert f"{rates}:3: a quoted field is not closed" in w.log_text()
    assert w.stop() == 0, w.log_text()


def test_a_missing_table_file_stops_the_start(tmp_path, bootstrap, weir_bin):
    name, source, sink = unique("fx"), unique("orders"), unique("orders-eur")
    create_topics(bootstrap, {source: 1, sink: 1})
    path = tmp_path / "pipeline.yaml"
    path.write_text(FILE_PIPELINE.format(name=name, source=source, sink=sink))
    r = subprocess.run([weir_bin, "run", str(path), "--bootstrap-servers", bootstrap,
                        "--state-dir", str(tmp_path / "state"), "--metrics-listen", ""],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert f"table 'fx': file {tmp_path / 'rates.csv'} does not exist or cannot be read" in (
        r.stdout + r.stderr)
