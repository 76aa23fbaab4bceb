"""A broker outage is waited out, never dead-lettered (DESIGN.md §2.2, §7):
the broker is stopped and started again under a running worker, which keeps
running and still produces exactly the expected windows."""
import os
import subprocess
import time

from conftest import ROOT, consume_all, create_topics
from test_windows import (as_results, assert_same, dlq_of, expected, produce_partitions,
                          random_partitions, write_pipeline)


def kafka(*args):
    out = subprocess.run([str(ROOT / "scripts" / "kafka.sh"), *args], capture_output=True,
                         text=True, timeout=180, env=os.environ.copy())
    assert out.returncode == 0, out.stdout + out.stderr


def test_worker_survives_a_broker_restart_with_exact_results(tmp_path, bootstrap, weir):
    path, source, sink, topics = write_pipeline(tmp_path, commit="200ms")
    create_topics(bootstrap, topics)
    parts = random_partitions(seed=21, per_partition=2000)
    want, _ = expected(parts)
    first = {p: v[: len(v) // 2] for p, v in parts.items()}
    second = {p: v[len(v) // 2:] for p, v in parts.items()}

    w = weir(path)
    produce_partitions(bootstrap, source, first)
    consume_all(bootstrap, sink, min_count=10, timeout=60, idle=1)

    kafka("stop")
    time.sleep(8)  # the worker retries meanwhile: consumer and producer both cut off
    assert w.alive(), w.log_text()
    kafka("start")

    produce_partitions(bootstrap, source, second)
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=120, idle=3)
    assert w.alive(), w.log_text()
    assert w.stop() == 0, w.log_text()
    assert_same(as_results(records), want)
    # Nothing was dead-lettered for the outage: only the malformed records.
    malformed = sum(1 for v in parts.values() for r in v if r.startswith('{"ts": oops'))
    dead = consume_all(bootstrap, dlq_of(topics), min_count=malformed, timeout=30, idle=2,
                       raw=True)
    assert len(dead) == malformed
