"""Record accounting against the real broker: a pipeline with a filter, a
map, a dedupe step and a tumbling window with a late topic and a dead-letter
topic reads a seeded mix of good, filtered, duplicated, late and malformed
records (invalid JSON, a value that is not an object, a missing or unreadable
event time, a type error in the map). Every input record must be found in
exactly one place, as an independent model of the pipeline says:

- in a window result (each result collects the ids of its records),
- filtered out (`weir_step_records_in_total` − `weir_step_records_out_total`
  of the filter step),
- dropped as a duplicate (`weir_deduplicated_records_total`),
- in the late topic, unchanged (`weir_late_records_total`),
- in the dead-letter topic, unchanged, with the `weir.error.*` and
  `weir.source.*` headers (`weir_record_errors_total`,
  `weir_dead_letter_records_total`),

and nowhere else: no other output, no other count.
"""
import json
import math
import random
import re
import time
from collections import Counter

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import create_topics, http_get, unique

PARTITIONS = 3
SIZE, LATENESS, OOO = 10_000, 2_000, 1_000
WITHIN = 60_000
BASE = 1_700_000_000_000  # a multiple of SIZE
LIMIT = 10_000  # collect() keeps every id of a window

PIPELINE = """
pipeline: {name}
source:
  topic: {source}
  partitioned_by: user
  event_time: {{field: ts, format: epoch_ms}}
  watermark: {{max_out_of_orderness: 1s, idle_timeout: off}}
steps:
  - filter: kind == "buy"
  - id: cents
    map:
      cents: amount * 100
    drop: [kind]
  - id: unique-buys
    dedupe: {{key: '[user, id]', within: 1m}}
  - id: spend
    window:
      group_by: [user]
      tumbling: 10s
      allowed_lateness: 2s
      aggregate:
        n: count()
        cents: sum(cents)
        ids: collect(id, {limit})
      late: {{topic: {late}}}
sink:
  topic: {sink}
errors:
  dead_letter_topic: {dlq}
processing:
  commit_interval: 200ms
"""

# Steps as weir names them in metrics and in weir.error.step.
SOURCE, MAP = "source", "cents"
# An enrich step with `on_miss: dead_letter` (tables) adds one more kind of
# dead letter, `table_miss` at the enrich step: give `generate` a record kind
# whose key the table lacks, and `model` the step between map and dedupe.


def generate(seed, per_partition):
    """Per partition, in offset order: (key, value bytes, timestamp, headers).
    Each record carries a unique `trace` header."""
    rng = random.Random(seed)
    parts = {}
    for p in range(PARTITIONS):
        users = [f"u{p}-{i}" for i in range(3)]
        t = BASE
        out = []
        recent = []  # good records that may be sent again, as a retrying producer would

        def add(key, value, ts):
            out.append((key, value if isinstance(value, bytes) else value.encode(), ts,
                        [("trace", f"{p}-{len(out)}".encode()), ("origin", b"test")]))

        for i in range(per_partition):
            t += rng.randint(0, 300)
            user = rng.choice(users)
            ident = f"e{p}-{i}"
            r = rng.random()
            event = {"id": ident, "ts": t, "user": user, "kind": "buy",
                     "amount": rng.randint(1, 500)}
            if r < 0.10:
                event["kind"] = rng.choice(["view", "refund"])  # filtered
                # A string amount is no error when the filter drops the record first.
                if rng.random() < 0.3:
                    event["amount"] = "n/a"
            elif r < 0.15 and recent:
                k, v, ts, _ = rng.choice(recent)  # a duplicate: the same bytes again
                add(k, v, ts)
                continue
            elif r < 0.19:
                event["ts"] = t - rng.randint(14_000, 30_000)  # late: its window has closed
            elif r < 0.25:
                event["ts"] = t - rng.randint(0, 1_000)  # out of order, within the bound
            elif r < 0.27:
                add(user, '{"id": "' + ident + '", "ts": ' + str(t) + ', oops', t)  # invalid JSON
                continue
            elif r < 0.28:
                add(user, json.dumps([ident, t]), t)  # JSON, but not an object
                continue
            elif r < 0.30:
                del event["ts"]  # no event time
            elif r < 0.31:
                event["ts"] = "yesterday"  # an event time that cannot be read
            elif r < 0.33:
                event["amount"] = "lots"  # map: a string times a number
            elif r < 0.35:
                del event["amount"]  # null arithmetic is null, not an error
            value = json.dumps(event)
            ts = event["ts"] if isinstance(event.get("ts"), int) else t
            add(user, value, ts)
            if event["kind"] == "buy" and isinstance(event.get("ts"), int):
                recent = (recent + [out[-1]])[-5:]
        # A filtered record far ahead closes every window of the partition.
        add(users[0], json.dumps({"id": f"e{p}-end", "ts": t + 60_000, "user": users[0],
                                  "kind": "tick"}), t + 60_000)
        parts[p] = out
    return parts


def model(parts):
    """What the pipeline must do with each record, written from the pipeline
    reference and DESIGN.md §3, sharing no code with weir.
    Returns {(partition, offset): (fate, detail)} and the window results."""
    fates = {}
    windows = {}
    for p, records in parts.items():
        wm = None
        open_windows = {}
        seen = {}  # dedupe: id -> first event time of its span

        def close():
            for k in sorted(k for k in open_windows if wm >= k[1] + SIZE + LATENESS):
                windows[k] = open_windows.pop(k)

        for offset, (_key, raw, _ts, _headers) in enumerate(records):
            where = (p, offset)
            try:
                e = json.loads(raw)
            except ValueError:
                fates[where] = ("dead_letter", ("invalid_json", SOURCE))
                continue
            if not isinstance(e, dict):
                fates[where] = ("dead_letter", ("invalid_json", SOURCE))
                continue
            if "ts" not in e or e["ts"] is None:
                fates[where] = ("dead_letter", ("missing_field", SOURCE))
                continue
            if not isinstance(e["ts"], (int, float)):
                fates[where] = ("dead_letter", ("invalid_time", SOURCE))
                continue
            t = math.floor(e["ts"])
            wm = t - OOO if wm is None else max(wm, t - OOO)
            close()
            if e.get("kind") != "buy":
                fates[where] = ("filtered", None)
                continue
            amount = e.get("amount")
            if amount is not None and not isinstance(amount, (int, float)):
                fates[where] = ("dead_letter", ("type_error", MAP))
                continue
            cents = None if amount is None else amount * 100
            first = seen.get(e["id"])
            if first is not None and t < first + WITHIN and wm < first + WITHIN:
                fates[where] = ("deduplicated", None)
                continue
            seen[e["id"]] = t
            start = t // SIZE * SIZE
            if wm >= start + SIZE + LATENESS:
                fates[where] = ("late", e["id"])
                continue
            open_windows.setdefault((e["user"], start), []).append((t, e["id"], cents))
            fates[where] = ("window", (e["user"], start, e["id"]))
    results = {}
    for (user, start), members in windows.items():
        cents = [c for _, _, c in members if c is not None]
        results[(user, start)] = {
            "user": user, "window_start": start, "window_end": start + SIZE,
            "n": len(members), "cents": sum(cents) if cents else None,
            # collect(): event-time order, equal times in arrival order
            "ids": [i for _, i, _ in sorted(members, key=lambda m: m[0])]}
    # Records in windows that never closed would be unaccounted: there are none.
    assert all(f != "window" or (d[0], d[1]) in results for f, d in fates.values())
    return fates, results


def produce_all(bootstrap, topic, parts):
    """Produces each partition in order; returns the offsets the broker gave."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    offsets = {}

    def delivered(err, msg, where):
        assert err is None, err
        offsets[where] = msg.offset()

    for part, records in parts.items():
        for i, (key, value, ts, headers) in enumerate(records):
            p.produce(topic, key=key, value=value, partition=part, timestamp=ts, headers=headers,
                      on_delivery=lambda err, msg, where=(part, i): delivered(err, msg, where))
            p.poll(0)
    assert p.flush(30) == 0
    return offsets


def read_topic(bootstrap, topic, partitions, min_count, timeout=60, idle=3.0):
    """Every record of the topic, read_committed, with raw bytes and headers."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("acct"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out, deadline, last = [], time.time() + timeout, time.time()
    while time.time() < deadline:
        m = c.poll(0.2)
        if m is None:
            if len(out) >= min_count and time.time() - last >= idle:
                break
            continue
        if m.error():
            raise RuntimeError(m.error())
        out.append(m)
        last = time.time()
    c.close()
    return out


def metric(body, name, **labels):
    """The value of one series, 0 when it does not exist."""
    total = 0
    for m in re.finditer(rf"^{name}\{{([^}}]*)\}} (\S+)$", body, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_every_record_is_accounted_for_exactly(tmp_path, bootstrap, weir):
    name, source, sink = unique("acct"), unique("acct-in"), unique("acct-out")
    late_topic, dlq = unique("acct-late"), unique("acct-dlq")
    create_topics(bootstrap, {source: PARTITIONS, sink: 1, late_topic: 1, dlq: 1})
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, sink=sink, late=late_topic,
                                    dlq=dlq, limit=LIMIT))

    parts = generate(seed=7, per_partition=1500)
    fates, want = model(parts)
    counts = Counter(f for f, _ in fates.values())
    errors = Counter(d for f, d in fates.values() if f == "dead_letter")
    total = sum(len(r) for r in parts.values())
    # The data exercises every fate and error.
    assert set(counts) == {"window", "filtered", "deduplicated", "late", "dead_letter"}, counts
    assert set(errors) == {("invalid_json", SOURCE), ("missing_field", SOURCE),
                           ("invalid_time", SOURCE), ("type_error", MAP)}, errors

    offsets = produce_all(bootstrap, source, parts)
    assert all(offsets[(p, i)] == i for p, r in parts.items() for i in range(len(r)))
    w = weir(path, metrics_listen="127.0.0.1:0")

    results = read_topic(bootstrap, sink, 1, len(want))
    late = read_topic(bootstrap, late_topic, 1, counts["late"], idle=1)
    dead = read_topic(bootstrap, dlq, 1, counts["dead_letter"], idle=1)
    port = re.search(r"serving metrics .*port=(\d+)", w.log_text()).group(1)
    deadline = time.time() + 30
    while True:  # the counters of the last records are up by now; wait if not
        status, body = http_get(f"http://127.0.0.1:{port}/metrics")
        if status == 200 and metric(body, "weir_records_consumed_total", pipeline=name) == total:
            # Step counters are added every 100 ms: one scrape more, later.
            time.sleep(0.5)
            status, body = http_get(f"http://127.0.0.1:{port}/metrics")
            break
        assert time.time() < deadline, body
        time.sleep(0.5)
    assert w.stop() == 0, w.log_text()

    problems = []

    # Window results: exactly the model's, each once, each id in exactly one.
    got = {}
    for m in results:
        v = json.loads(m.value())
        k = (v["user"], v["window_start"])
        if k in got:
            problems.append(f"window {k} emitted twice")
        got[k] = v
        if m.key() != v["user"].encode() or m.timestamp()[1] != v["window_end"] - 1:
            problems.append(f"window {k}: key {m.key()} timestamp {m.timestamp()[1]}")
    for k in sorted(set(want) - set(got))[:10]:
        problems.append(f"window {k} missing: {want[k]}")
    for k in sorted(set(got) - set(want))[:10]:
        problems.append(f"window {k} not in the model: {got[k]}")
    for k in sorted(set(want) & set(got)):
        if got[k] != want[k]:
            diff = {f: (got[k].get(f), want[k].get(f)) for f in set(got[k]) | set(want[k])
                    if got[k].get(f) != want[k].get(f)}
            problems.append(f"window {k} differs {{field: (got, expected)}}: {diff}")
    in_windows = Counter(i for v in got.values() for i in v["ids"])
    problems += [f"id {i} counted in {n} windows" for i, n in in_windows.items() if n > 1][:10]

    # Late records: unchanged, and exactly the model's.
    by_trace = {dict(h)["trace"]: (p, off) for p, r in parts.items()
                for off, (_, _, _, h) in enumerate(r)}
    late_seen = Counter()
    for m in late:
        trace = dict(m.headers() or []).get("trace")
        where = by_trace.get(trace)
        if where is None or fates[where][0] != "late":
            problems.append(f"late topic holds {m.value()!r} ({where}, model: "
                            f"{fates.get(where)})")
            continue
        late_seen[where] += 1
        key, value, ts, headers = parts[where[0]][where[1]]
        if (m.key(), m.value(), m.timestamp()[1], m.headers()) != (key.encode(), value, ts, headers):
            problems.append(f"late record {where} changed: {m.key()} {m.value()!r} "
                            f"{m.timestamp()[1]} {m.headers()}")
    want_late = {w for w, (f, _) in fates.items() if f == "late"}
    problems += [f"late record {w} {parts[w[0]][w[1]][1]!r} not in the late topic"
                 for w in sorted(want_late - set(late_seen))][:10]
    problems += [f"late record {w} in the late topic {n} times"
                 for w, n in late_seen.items() if n > 1][:10]

    # Dead letters: unchanged, with the headers saying where and why.
    dead_seen = Counter()
    for m in dead:
        h = dict(m.headers() or [])
        try:
            where = (int(h["weir.source.partition"]), int(h["weir.source.offset"]))
        except (KeyError, ValueError):
            problems.append(f"dead letter without its source: {m.value()!r} {h}")
            continue
        fate, detail = fates.get(where, (None, None))
        if fate != "dead_letter":
            problems.append(f"dead letter {where} {m.value()!r}: model says {fate}")
            continue
        dead_seen[where] += 1
        key, value, ts, headers = parts[where[0]][where[1]]
        code, step = detail
        if (m.key(), m.value(), m.timestamp()[1]) != (key.encode(), value, ts):
            problems.append(f"dead letter {where} changed: {m.key()} {m.value()!r} "
                            f"{m.timestamp()[1]}")
        names = [k for k, _ in m.headers()]
        if m.headers()[:len(headers)] != headers or names[len(headers):] != [
                "weir.error.code", "weir.error.message", "weir.error.step",
                "weir.source.topic", "weir.source.partition", "weir.source.offset"]:
            problems.append(f"dead letter {where} headers: {m.headers()}")
        if (h.get("weir.error.code"), h.get("weir.error.step"), h.get("weir.source.topic")) != (
                code.encode(), step.encode(), source.encode()) or not h.get("weir.error.message"):
            problems.append(f"dead letter {where}: code {h.get('weir.error.code')} step "
                            f"{h.get('weir.error.step')} topic {h.get('weir.source.topic')} "
                            f"message {h.get('weir.error.message')}; expected {code} at {step}")
    want_dead = {w for w, (f, _) in fates.items() if f == "dead_letter"}
    problems += [f"{fates[w][1]} record {w} {parts[w[0]][w[1]][1]!r} not dead-lettered"
                 for w in sorted(want_dead - set(dead_seen))][:10]
    problems += [f"dead letter {w} written {n} times" for w, n in dead_seen.items() if n > 1][:10]

    # The counters agree with the model, and together they cover every record.
    expect_metrics = {
        ("weir_records_consumed_total", ()): total,
        ("weir_records_produced_total", ()): len(want),
        ("weir_windows_emitted_total", (("step", "spend"),)): len(want),
        ("weir_late_records_total", (("step", "spend"),)): counts["late"],
        ("weir_deduplicated_records_total", (("step", "unique-buys"),)): counts["deduplicated"],
        ("weir_dead_letter_records_total", (("topic", dlq),)): counts["dead_letter"],
        ("weir_record_errors_total", ()): counts["dead_letter"],
    }
    for (code, step), n in errors.items():
        expect_metrics[("weir_record_errors_total", (("error", code), ("step", step)))] = n
    for (series, labels), n in sorted(expect_metrics.items()):
        have = metric(body, series, pipeline=name, **dict(labels))
        if have != n:
            problems.append(f"{series}{dict(labels)} = {have:g}, expected {n}")
    in_results = sum(v["n"] for v in got.values())
    unaccounted = (metric(body, "weir_records_consumed_total", pipeline=name)
                   - metric(body, "weir_record_errors_total", pipeline=name)
                   - metric(body, "weir_deduplicated_records_total", pipeline=name)
                   - metric(body, "weir_late_records_total", pipeline=name) - in_results)
    if unaccounted != counts["filtered"]:
        problems.append(f"consumed - errors - deduplicated - late - counted in windows = "
                        f"{unaccounted:g}, but {counts['filtered']} records were filtered out")

    # Each step's records in and out: what the source decoded goes through the
    # filter, the map loses its type errors, the dedupe its duplicates, and
    # the window turns what is not late into the results.
    filter_step = (re.findall(rf'^weir_step_records_in_total{{[^}}]*pipeline="{name}"[^}}]*'
                              rf'step="(filter-\d+)"', body, re.M) or ["filter-?"])[0]
    decoded = total - sum(n for (code, step), n in errors.items() if step == SOURCE)
    type_errors = sum(n for (code, step), n in errors.items() if step == MAP)
    kept = decoded - counts["filtered"]
    unique_in = kept - type_errors
    expect_steps = {
        (filter_step, "in"): decoded, (filter_step, "out"): kept,
        (MAP, "in"): kept, (MAP, "out"): unique_in,
        ("unique-buys", "in"): unique_in,
        ("unique-buys", "out"): unique_in - counts["deduplicated"],
        ("spend", "in"): unique_in - counts["deduplicated"], ("spend", "out"): len(want),
    }
    for (step, way), n in sorted(expect_steps.items()):
        have = metric(body, f"weir_step_records_{way}_total", pipeline=name, step=step)
        if have != n:
            problems.append(f"weir_step_records_{way}_total{{step={step}}} = {have:g}, "
                            f"expected {n}")

    assert not problems, "\n".join(
        [f"{total} records: {dict(counts)}; {len(results)} results, {len(late)} late, "
         f"{len(dead)} dead letters"] + problems)
