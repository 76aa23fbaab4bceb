"""Fixtures for weir's integration tests against a real local Kafka broker.

scripts/test.sh starts the broker (scripts/kafka.sh) and sets
WEIR_TEST_BOOTSTRAP and WEIR_BIN; these tests never start or stop it.
"""
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def bootstrap():
    b = os.environ.get("WEIR_TEST_BOOTSTRAP")
    if not b:
        pytest.fail("WEIR_TEST_BOOTSTRAP is not set: run the suite through scripts/test.sh")
    return b


@pytest.fixture(scope="session")
def weir_bin():
    return os.environ.get("WEIR_BIN", str(ROOT / "build" / "weir"))


def unique(name):
    return f"{name}-{uuid.uuid4().hex[:8]}"


def create_topics(bootstrap, topics):
    """topics: {name: partitions}. Waits until every partition has a leader."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        # Test data has fixed event times in the past; time-based retention
        # would delete it from under the test.
        [NewTopic(t, num_partitions=n, replication_factor=1, config={"retention.ms": "-1"})
         for t, n in topics.items()])
    for f in futures.values():
        f.result(30)
    deadline = time.time() + 30
    while time.time() < deadline:
        md = admin.list_topics(timeout=10)
        if all(t in md.topics and len(md.topics[t].partitions) == n and
               all(p.leader >= 0 for p in md.topics[t].partitions.values())
               for t, n in topics.items()):
            return
        time.sleep(0.2)
    raise TimeoutError(f"topics {list(topics)} not ready")


def produce(bootstrap, topic, records):
    """records: iterable of (partition, key, value_bytes_or_str, timestamp_ms)."""
    p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5})
    for partition, key, value, ts in records:
        p.produce(topic, key=key, value=value, partition=partition, timestamp=ts)
        p.poll(0)
    assert p.flush(30) == 0


def consume_all(bootstrap, topic, min_count=0, timeout=60, idle=2.0, raw=False):
    """Reads `topic` from the beginning until at least `min_count` records were
    read and nothing new arrived for `idle` seconds (or `timeout`). Values are
    parsed as JSON unless `raw`."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("reader"),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "isolation.level": "read_committed"})
    md = c.list_topics(topic, timeout=10)
    parts = [TopicPartition(topic, p, 0) for p in md.topics[topic].partitions]
    c.assign(parts)
    out = []
    deadline = time.time() + timeout
    last_new = time.time()
    while time.time() < deadline:
        m = c.poll(0.2)
        if m is None:
            if len(out) >= min_count and time.time() - last_new >= idle:
                break
            continue
        if m.error():
            raise RuntimeError(m.error())
        out.append({"key": m.key().decode() if m.key() is not None else None,
                    "value": m.value() if raw else json.loads(m.value()),
                    "timestamp": m.timestamp()[1],
                    "partition": m.partition(),
                    "headers": dict((k, v) for k, v in (m.headers() or []))})
        last_new = time.time()
    c.close()
    return out


class WeirProcess:
    """A `weir run` child process with its log captured to a file."""

    def __init__(self, weir_bin, pipeline, bootstrap, state_dir, log_path, metrics_listen="",
                 extra_args=()):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [weir_bin, "run", str(pipeline), "--bootstrap-servers", bootstrap,
             "--state-dir", str(state_dir), "--metrics-listen", metrics_listen, *extra_args],
            stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self.log.close()
        return code

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def alive(self):
        return self.proc.poll() is None

    def log_text(self):
        return Path(self.log_path).read_text(errors="replace")


@pytest.fixture
def weir(weir_bin, bootstrap, tmp_path):
    """Starts weir processes; stops whatever is left at the end of the test."""
    started = []

    def start(pipeline, state_dir=None, metrics_listen="", extra_args=(), log="weir.log"):
        p = WeirProcess(weir_bin, pipeline, bootstrap, state_dir or (tmp_path / "state"),
                        tmp_path / log, metrics_listen, extra_args)
        started.append(p)
        return p

    yield start
    for p in started:
        if p.alive():
            p.proc.kill()
            p.proc.wait(30)


def http_get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metrics_port(w, earlier=0, timeout=60):
    """The port a process started with --metrics-listen 127.0.0.1:0 serves
    metrics on; its log follows `earlier` processes' logs in the same file."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        ports = re.findall(r"serving metrics.*port=(\d+)", w.log_text())
        if len(ports) > earlier:
            return int(ports[-1])
        assert w.alive(), w.log_text()
        time.sleep(0.2)
    raise TimeoutError("weir did not serve metrics:\n" + w.log_text())
