"""The conformance cases of tests/conformance/ through `weir run` against the
real broker (DESIGN.md section 7), checked against the same expectations that
`weir test` checks on virtual time.

Each case runs in a fresh weir process with its own pipeline name, topics and
state directory: its inputs and watermark ticks (see conformance_runner.py)
are produced first, then weir runs until the sink and late topics hold the
expected number of records and stay quiet for a moment, then stops on SIGTERM.
Cases that move the wall clock (`advance_time`, emit `{changes: T}`) depend on
virtual time and run only in `weir test`.
"""
import time

import pytest
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

import conformance_runner as cr
from conftest import ROOT, create_topics, unique

CONFORMANCE = ROOT / "tests" / "conformance"

# Every window kind, the close rule, out-of-order and late records, emit modes:
# each of these files must keep at least one case that runs here.
REQUIRED = ["tumbling-close-rule", "out-of-order", "hopping", "sliding", "session",
            "emit-modes"]

CASES = [c for f in sorted(CONFORMANCE.glob("*.yaml")) for c in cr.load_cases(f)]

IDLE = 1.5  # seconds without new output before weir is stopped
TIMEOUT = 30  # seconds to wait for the expected output


def produce(bootstrap, topic, records):
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for r in records:
        kwargs = {"timestamp": r.timestamp} if r.timestamp is not None else {}
        p.produce(topic, key=r.key, value=r.value, partition=r.partition, headers=r.headers,
                  **kwargs)
        p.poll(0)
    assert p.flush(30) == 0


def _consumer(bootstrap, topics, **extra):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("conformance-reader"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_committed", **extra})
    parts = []
    for t in topics:
        md = c.list_topics(t, timeout=10)
        parts += [TopicPartition(t, p, 0) for p in md.topics[t].partitions]
    c.assign(parts)
    return c, parts


def _written(m):
    return cr.Written(key=m.key(), value=m.value(), timestamp=m.timestamp()[1],
                      headers=list(m.headers() or []), partition=m.partition())


def wait_for(bootstrap, wanted, weir_process):
    """Waits until, for each (topics, n) of `wanted`, the topics together hold
    at least n records and nothing new arrived for IDLE seconds (or TIMEOUT,
    or weir exits)."""
    topics = [t for ts, _ in wanted for t in ts]
    c, _ = _consumer(bootstrap, topics)
    seen = {t: 0 for t in topics}
    deadline = time.time() + TIMEOUT
    last_new = time.time()
    try:
        while time.time() < deadline and weir_process.alive():
            m = c.poll(0.1)
            if m is None:
                if (all(sum(seen[t] for t in ts) >= n for ts, n in wanted) and
                        time.time() - last_new >= IDLE):
                    return
                continue
            if m.error():
                raise RuntimeError(m.error())
            seen[m.topic()] += 1
            last_new = time.time()
    finally:
        c.close()


def read_to_end(bootstrap, topics):
    """Every record of `topics` once nothing writes to them any more:
    {topic: [Written]} in partition order."""
    c, parts = _consumer(bootstrap, topics, **{"enable.partition.eof": True})
    out = {t: [] for t in topics}
    at_end = set()
    deadline = time.time() + 30
    try:
        while len(at_end) < len(parts):
            assert time.time() < deadline, f"no end of {topics} after 30 s"
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add((m.topic(), m.partition()))
                    continue
                raise RuntimeError(m.error())
            out[m.topic()].append(_written(m))
    finally:
        c.close()
    return out


def test_the_subset_covers_every_required_file():
    runnable = {c.file.stem for c in CASES if c.skip is None}
    assert set(REQUIRED) <= runnable, f"no runnable case in {sorted(set(REQUIRED) - runnable)}"


@pytest.mark.parametrize(
    "case",
    [pytest.param(c, id=c.id, marks=[pytest.mark.skip(reason=c.skip)] if c.skip else [])
     for c in CASES])
def test_conformance_case_through_weir_run(case, tmp_path, bootstrap, weir):
    source = case.pipeline["source"]["topic"]
    sink = case.pipeline["sink"]["topic"]
    late = cr.late_topics(case.pipeline)
    topics = {t: unique(f"conf-{t}") for t in [source, sink, *late]}
    create_topics(bootstrap, {topics[source]: case.partitions,
                              **{topics[t]: 1 for t in [sink, *late]}})
    path = tmp_path / "pipeline.yaml"
    path.write_text(cr.rewrite(case.pipeline, unique(f"conf-{case.file.stem}"), topics))
    produce(bootstrap, topics[source], case.records)

    started = time.time()
    w = weir(path)
    wanted = [([topics[sink]], len(case.expect))]
    if case.expect_late is not None:  # like the test driver, one list for all late topics
        wanted.append(([topics[t] for t in late], len(case.expect_late)))
    wait_for(bootstrap, wanted, w)
    code = w.stop()
    assert code == 0, f"weir exited with {code}\n{w.log_text()}"
    elapsed = time.time() - started

    got = read_to_end(bootstrap, [t for ts, _ in wanted for t in ts])
    group = [g for win in cr.window_steps(case.pipeline) for g in win.get("group_by") or []]
    problems = cr.compare(case.expect, got[topics[sink]], case.partitions, group)
    if case.expect_late is not None:
        written_late = [r for t in late for r in got[topics[t]]]
        problems += ["late topic: " + p for p in cr.compare(
            case.expect_late, written_late, case.partitions,
            case.pipeline["source"].get("partitioned_by") or [])]
    assert not problems, (f"{case.file.name}: {case.name} (weir ran {elapsed:.1f} s)\n" +
                          "\n".join(problems) + "\n--- weir log\n" + w.log_text())
