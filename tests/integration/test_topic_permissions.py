"""weir as a principal that may read and write topics but not create them
(docs/operations.md, Scaling): `weir run` must stop at start, exit 1, and
name each internal topic it needs with its partition count, configs and the
operations it needs on it. Created by hand from that message alone, the
topics let the same principal run the pipeline with exact results.

scripts/test.sh starts its broker with WEIR_KAFKA_SASL=1 and WEIR_KAFKA_ACL=1:
the StandardAuthorizer, with a SCRAM user (WEIR_KAFKA_SASL_RESTRICTED_USER)
allowed Read, Write and Describe on every topic and Read on every group, and
nothing else. Topics are created and read through the PLAINTEXT listener
(ANONYMOUS, a super user); weir alone talks SASL_PLAINTEXT.
"""
import json
import os
import re

import pytest
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import WeirProcess, consume_all, create_topics, produce, unique

USER = os.environ.get("WEIR_KAFKA_SASL_RESTRICTED_USER", "weir-restricted")
PASSWORD = os.environ.get("WEIR_KAFKA_SASL_RESTRICTED_PASSWORD", "weir-restricted-secret")

BASE = 1_700_000_000_000
SIZE = 10_000

# No `partitioned_by`: the window's groups span partitions, so weir needs a
# repartition topic as well as the window's changelog.
PIPELINE = """
pipeline: {name}
source:
  topic: {source}
  event_time: {{field: ts, format: epoch_ms}}
  watermark: {{max_out_of_orderness: 1s}}
steps:
  - id: spend
    window:
      group_by: [user]
      tumbling: 10s
      allowed_lateness: 2s
      aggregate:
        n: count()
        total: sum(amount)
sink:
  topic: {sink}
processing:
  commit_interval: 200ms
"""

# (partition, event): users a and b on both partitions; the last record of
# each partition closes [BASE, BASE+10s).
EVENTS = [
    (0, {"ts": BASE + 1_000, "user": "a", "amount": 5}),
    (1, {"ts": BASE + 2_000, "user": "b", "amount": 10}),
    (0, {"ts": BASE + 3_000, "user": "b", "amount": 7}),
    (1, {"ts": BASE + 4_000, "user": "a", "amount": 1}),
    (0, {"ts": BASE + 30_000, "user": "z", "amount": 0}),
    (1, {"ts": BASE + 30_000, "user": "z", "amount": 0}),
]
EXPECTED = {
    "a": {"user": "a", "window_start": BASE, "window_end": BASE + SIZE, "n": 2, "total": 6},
    "b": {"user": "b", "window_start": BASE, "window_end": BASE + SIZE, "n": 2, "total": 17},
}


@pytest.fixture(scope="session")
def restricted_bootstrap():
    b = os.environ.get("WEIR_TEST_SASL_BOOTSTRAP")
    if not b or os.environ.get("WEIR_KAFKA_ACL") != "1":
        pytest.skip("no broker with ACLs (scripts/test.sh starts one with WEIR_KAFKA_SASL=1 "
                    "and WEIR_KAFKA_ACL=1)")
    return b


def restricted_args():
    return ["--kafka-property", "security.protocol=SASL_PLAINTEXT",
            "--kafka-property", "sasl.mechanism=SCRAM-SHA-256",
            "--kafka-property", f"sasl.username={USER}",
            "--kafka-property", "sasl.password=env:WEIR_TEST_RESTRICTED_SECRET"]


# `NAME (partitions=N, KEY=VALUE, ...; weir needs OP, OP and OP)`
TOPIC_RE = re.compile(r"([\w.-]+) \(partitions=(\d+)((?:, [\w.]+=[^,;)]+)*); weir needs ([^)]+)\)")


def topics_to_create(log):
    """{name: (partitions, {config}, [operations])} from weir's error line."""
    lines = [line for line in log.splitlines() if "internal topics unavailable" in line]
    assert len(lines) == 1, log
    line = lines[0]
    assert "not allowed to create topics" in line and "Authorization failed" in line, line
    assert "grant this principal Create" in line and "any replication factor" in line, line
    listed = line.split("any replication factor), or grant this principal Create on them: ", 1)[1]
    out = {}
    for name, partitions, configs, operations in TOPIC_RE.findall(listed):
        config = dict(c.split("=", 1) for c in configs.split(", ") if c)
        out[name] = (int(partitions), config, re.split(r", | and ", operations))
    return out


def test_a_principal_that_may_not_create_topics_is_told_which_to_create(
        restricted_bootstrap, bootstrap, weir_bin, tmp_path, monkeypatch):
    monkeypatch.setenv("WEIR_TEST_RESTRICTED_SECRET", PASSWORD)
    name, source, sink = unique("perm"), unique("perm-in"), unique("perm-out")
    create_topics(bootstrap, {source: 2, sink: 1})
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, sink=sink))

    w = WeirProcess(weir_bin, path, restricted_bootstrap, tmp_path / "state",
                    tmp_path / "first.log", "", restricted_args())
    try:
        code = w.proc.wait(60)
    finally:
        if w.alive():
            w.kill9()
    log = w.log_text()
    assert code == 1, log
    assert PASSWORD not in log
    changelog, repartition = f"{name}.spend.changelog", f"{name}.spend.repartition"
    assert topics_to_create(log) == {
        changelog: (2, {"cleanup.policy": "compact", "min.compaction.lag.ms": "3600000",
                        "segment.bytes": "67108864", "segment.ms": "86400000"},
                    ["Read", "Write"]),
        repartition: (2, {"cleanup.policy": "delete", "retention.ms": "-1",
                          "segment.bytes": "67108864"},
                      ["Read", "Write", "Delete"]),
    }, log
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = admin.list_topics(timeout=10).topics
    assert changelog not in existing and repartition not in existing, "weir created a topic"

    # An operator creates them as told (the principal already has Read and
    # Write on every topic, not Delete); the same principal then runs.
    futures = admin.create_topics([NewTopic(t, partitions, 1, config=config)
                                   for t, (partitions, config, _) in topics_to_create(log).items()])
    for f in futures.values():
        f.result(30)
    produce(bootstrap, source, [(p, e["user"], json.dumps(e), e["ts"]) for p, e in EVENTS])
    w = WeirProcess(weir_bin, path, restricted_bootstrap, tmp_path / "state",
                    tmp_path / "second.log", "", restricted_args())
    try:
        records = consume_all(bootstrap, sink, min_count=len(EXPECTED), timeout=60, idle=3)
        assert w.stop() == 0, w.log_text()
    finally:
        if w.alive():
            w.kill9()
    log = w.log_text()
    assert {r["key"]: r["value"] for r in records} == EXPECTED, log
    assert len(records) == len(EXPECTED), log
    assert "internal topics unavailable" not in log and "created internal topics" not in log, log
