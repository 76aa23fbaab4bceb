#!/usr/bin/python3
"""Data set, drain wait and result check for bench/kstreams/selftest.sh.

  selftest.py produce BOOTSTRAP EVENTS_JSON      write a small nexmark and clicks
                                                 data set (WORKLOADS.md shapes,
                                                 plus hand-written edge cases) to
                                                 the topics `nexmark` and `clicks`
                                                 and save it to EVENTS_JSON
  selftest.py wait-drained BOOTSTRAP GROUP TOPIC [TIMEOUT_S]
                                                 wait until GROUP has committed
                                                 the end of every partition of TOPIC
  selftest.py internal-topics BOOTSTRAP APPLICATION_ID
                                                 list the application's internal
                                                 topics, fail if one is a
                                                 repartition topic, then delete them
  selftest.py check BOOTSTRAP EVENTS_JSON QUERY TOPIC
                                                 read TOPIC (read_committed) and
                                                 compare it with what a model of
                                                 the query computes from the data

The model runs each query as Kafka Streams does: per input partition, stream
time is the largest timestamp the aggregation has seen; a time window
[start, end) closes when stream time - grace >= end, a session [first, last]
when stream time - grace - gap > last; only closed windows are results.
"""
import json
import random
import sys
import time
import zlib
from collections import Counter, defaultdict

from confluent_kafka import Consumer, Producer, TopicPartition

PARTITIONS = 3
T0 = 1_700_000_000_000
GRACE = 2000
HOP_SIZE, HOP_ADVANCE = 10_000, 2000
TUMBLE = 10_000
GAP = 5000
QUERY_INPUT = {"q1": "nexmark", "q2": "nexmark", "q5": "nexmark", "q7": "nexmark",
               "agg": "clicks", "session": "clicks"}


def partition_of(key):
    return zlib.crc32(key.encode()) % PARTITIONS


# ---------------------------------------------------------------- data set

def shifted(rng, nominal, i):
    """5 % of events move back by 1-2000 ms; some of them by exactly 2000."""
    if rng.random() < 0.05:
        return nominal - (2000 if i % 7 == 0 else rng.randint(1, 2000))
    return nominal


def nexmark_events(rng):
    events = []  # (nominal time, key, value)
    persons, auctions = [], []
    next_person, next_auction = 1_000_000, 1_000_000
    n = 4000  # 50 events per second of event time: 80 s
    for i in range(n):
        nominal = T0 + i * 20
        ts = shifted(rng, nominal, i)
        slot = i % 50
        if slot == 0 or not persons:
            pid = next_person
            next_person += 1
            persons.append(pid)
            events.append((nominal, str(pid), {
                "type": "person", "ts": ts, "id": pid, "name": f"name {pid}",
                "email": f"p{pid}@example.com", "city": "Portland", "state": "OR",
                "credit_card": "1234 5678 9012 3456"}))
        elif slot in (1, 17, 33) or not auctions:
            aid = next_auction
            next_auction += 1
            auctions.append(aid)
            events.append((nominal, str(aid), {
                "type": "auction", "ts": ts, "id": aid, "item_name": f"item {aid}",
                "initial_bid": 100, "reserve": 500, "expires": ts + 60_000,
                "seller": rng.choice(persons), "category": aid % 20}))
        else:
            # Hot: one of the 10 most recent auctions (persons), else any.
            auction = rng.choice(auctions[-10:] if rng.random() < 0.5 else auctions)
            bidder = rng.choice(persons[-10:] if rng.random() < 0.5 else persons)
            price = int(round(10 ** rng.uniform(2, 6)))
            events.append((nominal, str(auction), {
                "type": "bid", "ts": ts, "auction": auction, "bidder": bidder,
                "price": price, "channel": "web", "url": f"https://example.com/a/{auction}",
                "extra": ""}))
    # Hand-written bids on auction 1000113 (a q2 match) at window edges: the
    # first and last millisecond of tumbling and hopping windows.
    for t in (30_000, 30_001, 39_999, 40_000, 41_999, 42_000, 49_999, 50_000):
        events.append((T0 + t, "1000113", {
            "type": "bid", "ts": T0 + t, "auction": 1000113, "bidder": 1000001,
            "price": 1000 + t % 1000, "channel": "web", "url": "https://example.com/edge",
            "extra": "edge"}))
    events.sort(key=lambda e: e[0])  # stable: generated order among equal times
    return [(key, value) for _, key, value in events]


def clicks_events(rng):
    events = []
    users = [f"u{i:06d}" for i in range(30)]
    weights = [1 / (r + 1) ** 0.8 for r in range(len(users))]
    n = 1800  # 20 clicks per second of event time: 90 s
    for i in range(n):
        nominal = T0 + i * 50
        user = rng.choices(users, weights)[0]
        events.append((nominal, user, {
            "ts": shifted(rng, nominal, i), "user": user, "page": f"/p/{rng.randint(1, 60)}",
            "action": rng.choice(["view", "view", "view", "click"]),
            "duration_ms": rng.randint(0, 30_000)}))
    # Hand-written sessions. `uedge1`: 5000 apart joins a session, 5001 apart
    # starts a new one. `uedge2`: two sessions 6000 apart, then a record 2000
    # ms late that lies within the gap of both and merges them.
    hand = [(10_000, "uedge1", 10_000), (15_000, "uedge1", 15_000),
            (20_001, "uedge1", 20_001),
            (40_000, "uedge2", 40_000), (46_000, "uedge2", 46_000),
            (46_000, "uedge2", 44_000)]
    for nominal, user, t in hand:
        events.append((T0 + nominal, user, {
            "ts": T0 + t, "user": user, "page": "/edge", "action": "view", "duration_ms": 100}))
    events.sort(key=lambda e: e[0])
    return [(key, value) for _, key, value in events]


def produce(bootstrap, path):
    rng = random.Random(20240607)
    data = {"nexmark": nexmark_events(rng), "clicks": clicks_events(rng)}
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                         "linger.ms": 20})
    for topic, events in data.items():
        for key, value in events:
            producer.produce(topic, key=key.encode(), value=json.dumps(value).encode(),
                             partition=partition_of(key), timestamp=value["ts"])
            producer.poll(0)
    if producer.flush(30) != 0:
        sys.exit("selftest.py: records not delivered")
    with open(path, "w") as f:
        json.dump(data, f)
    for topic, events in data.items():
        print(f"selftest.py: {len(events)} records to {topic}")


# ---------------------------------------------------------------- model

def by_partition(events):
    parts = defaultdict(list)
    for key, value in events:
        parts[partition_of(key)].append((key, value))
    return parts


def check_order(events):
    """The data set keeps the contract: no record is more than 2 s late."""
    for part, recs in by_partition(events).items():
        high = None
        for _, v in recs:
            assert high is None or v["ts"] >= high - GRACE, (part, v, high)
            high = v["ts"] if high is None else max(high, v["ts"])


def time_windows(ts, size, advance):
    start = max(0, ts - size + advance)
    start -= start % advance
    while start <= ts:
        yield start
        start += advance


def model_time_windows(events, size, advance, init, update, result):
    out = []
    for recs in by_partition(events).values():
        stream_time, panes = None, {}
        for key, v in recs:
            ts = v["ts"]
            stream_time = ts if stream_time is None else max(stream_time, ts)
            for start in time_windows(ts, size, advance):
                assert start + size > stream_time - GRACE, "late record in the data set"
                panes[(key, start)] = update(panes.get((key, start), init), v)
        for (key, start), agg in panes.items():
            if start + size <= stream_time - GRACE:
                out.append((key, result(key, start, start + size, agg), start + size - 1))
    return out


def model_sessions(events):
    out = []
    for recs in by_partition(events).values():
        stream_time, sessions = None, defaultdict(list)  # key -> [first, last, views]
        for key, v in recs:
            ts = v["ts"]
            stream_time = ts if stream_time is None else max(stream_time, ts)
            near = [s for s in sessions[key] if s[1] >= ts - GAP and s[0] <= ts + GAP]
            merged = [min([ts] + [s[0] for s in near]), max([ts] + [s[1] for s in near]),
                      1 + sum(s[2] for s in near)]
            assert merged[1] >= stream_time - GRACE - GAP, "late record in the data set"
            sessions[key] = [s for s in sessions[key] if s not in near] + [merged]
        for key, ss in sessions.items():
            for first, last, views in ss:
                if last < stream_time - GRACE - GAP:
                    out.append((key, {"user": key, "window_start": first, "window_end": last,
                                      "views": views}, last))
    return out


def expected(query, data):
    events = data[QUERY_INPUT[query]]
    check_order(events)
    bids = [(k, v) for k, v in events if v["type"] == "bid"] if query != "agg" and query != "session" else None
    if query == "q1":
        return [(k, {"auction": v["auction"], "bidder": v["bidder"],
                     "price_eur": v["price"] * 0.908, "ts": v["ts"]}, v["ts"]) for k, v in bids]
    if query == "q2":
        return [(k, {"auction": v["auction"], "price": v["price"]}, v["ts"])
                for k, v in bids if v["auction"] % 123 == 0]
    if query == "q5":
        return model_time_windows(
            bids, HOP_SIZE, HOP_ADVANCE, 0, lambda a, v: a + 1,
            lambda k, s, e, a: {"auction": int(k), "window_start": s, "window_end": e, "bids": a})
    if query == "q7":
        return model_time_windows(
            bids, TUMBLE, TUMBLE, None, lambda a, v: v["price"] if a is None else max(a, v["price"]),
            lambda k, s, e, a: {"auction": int(k), "window_start": s, "window_end": e, "max_price": a})
    if query == "agg":
        return model_time_windows(
            events, TUMBLE, TUMBLE, (0, 0), lambda a, v: (a[0] + 1, a[1] + v["duration_ms"]),
            lambda k, s, e, a: {"user": k, "window_start": s, "window_end": e,
                                "views": a[0], "total_ms": a[1]})
    if query == "session":
        return model_sessions(events)
    raise ValueError(query)


# ---------------------------------------------------------------- Kafka

def wait_drained(bootstrap, group, topic, timeout):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    ends = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts]
    deadline = time.monotonic() + timeout
    while True:
        committed = [tp.offset for tp in consumer.committed(parts, timeout=10)]
        if committed == ends:
            consumer.close()
            return
        if time.monotonic() > deadline:
            sys.exit(f"selftest.py: group {group} committed {committed}, end offsets {ends}, "
                     f"after {timeout} s")
        time.sleep(0.5)


def read_topic(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "selftest-reader",
                         "enable.auto.commit": False, "isolation.level": "read_committed",
                         "enable.partition.eof": True, "auto.offset.reset": "earliest"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    records, at_eof = [], set()
    deadline = time.monotonic() + 60
    while len(at_eof) < PARTITIONS and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is None:
            continue
        if msg.error():
            if msg.error().code() == msg.error()._PARTITION_EOF:
                at_eof.add(msg.partition())
                continue
            sys.exit(f"selftest.py: reading {topic}: {msg.error()}")
        records.append((msg.key().decode(), json.loads(msg.value()), msg.timestamp()[1]))
    consumer.close()
    if len(at_eof) < PARTITIONS:
        sys.exit(f"selftest.py: {topic} not read to its end")
    return records


def canonical(record):
    key, value, ts = record
    floats = tuple(sorted((k, v) for k, v in value.items() if isinstance(v, float)))
    exact = tuple(sorted((k, v) for k, v in value.items() if not isinstance(v, float)))
    return (key, exact, ts, tuple(k for k, _ in floats)), tuple(v for _, v in floats)


def check(bootstrap, path, query, topic):
    with open(path) as f:
        data = json.load(f)
    want = sorted(canonical(r) for r in expected(query, data))
    got = sorted(canonical(r) for r in read_topic(bootstrap, topic))
    problems = []
    want_ids, got_ids = Counter(w[0] for w in want), Counter(g[0] for g in got)
    for ident in sorted((want_ids - got_ids).keys())[:5]:
        problems.append(f"missing: {ident}")
    for ident in sorted((got_ids - want_ids).keys())[:5]:
        problems.append(f"unexpected or repeated: {ident}")
    if not problems:
        for (ident, wf), (_, gf) in zip(want, got):
            for a, b in zip(wf, gf):
                if abs(a - b) > 1e-9 * max(abs(a), abs(b)):
                    problems.append(f"{ident}: {gf} != {wf}")
    summary = describe(query, want)
    if problems or len(want) != len(got):
        print(f"selftest.py: {query} on {topic}: FAIL: {len(got)} records, {len(want)} expected; "
              f"{summary}", file=sys.stderr)
        for p in problems[:10]:
            print("  " + p, file=sys.stderr)
        sys.exit(1)
    print(f"selftest.py: {query} on {topic}: OK: {len(got)} records equal the model; {summary}")


def describe(query, want):
    """A few figures of the expected results, to show the check is not vacuous."""
    values = [dict(w[0][1]) for w in want]
    if query == "q5":
        return f"bids per window max {max(v['bids'] for v in values)}, total {sum(v['bids'] for v in values)}"
    if query == "q7":
        return f"{len({v['auction'] for v in values})} auctions"
    if query == "agg":
        return f"views {sum(v['views'] for v in values)}, total_ms {sum(v['total_ms'] for v in values)}"
    if query == "session":
        multi = sum(1 for v in values if v["views"] > 1)
        edge = sorted((v["user"], v["window_start"] - T0, v["window_end"] - T0, v["views"])
                      for v in values if v["user"].startswith("uedge"))
        return f"{multi} sessions of several views; edge sessions {edge}"
    return f"{len({w[0][0] for w in want})} keys"


def internal_topics(bootstrap, app_id):
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = sorted(t for t in admin.list_topics(timeout=10).topics if t.startswith(app_id + "-"))
    print(f"selftest.py: internal topics of {app_id}: {topics or 'none'}")
    if topics:
        for future in admin.delete_topics(topics, operation_timeout=30).values():
            future.result()
    if any(t.endswith("-repartition") for t in topics):
        sys.exit(f"selftest.py: {app_id} repartitions its input")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "produce":
        produce(*args)
    elif cmd == "wait-drained":
        wait_drained(args[0], args[1], args[2], float(args[3]) if len(args) > 3 else 180)
    elif cmd == "internal-topics":
        internal_topics(*args)
    elif cmd == "check":
        check(*args)
    elif cmd == "expected":  # debugging: print the model's results
        with open(args[0]) as f:
            data = json.load(f)
        for r in sorted(expected(args[1], data), key=lambda r: (r[0], r[2])):
            print(r[0], json.dumps(r[1]), r[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
