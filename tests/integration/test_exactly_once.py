"""exactly_once (DESIGN.md §3 Delivery, §5): a windowed pipeline on three
partitions is killed with SIGKILL again and again at random moments —
mid-stream and during commits — and restarted on its state directory; a
read_committed reader sees every window result exactly once, with exactly
the values of the independent model."""
import random
import threading
import time

from conftest import consume_all, create_topics
from test_windows import (as_results, assert_same, expected, produce_partitions,
                          random_partitions, write_pipeline)


def eos_pipeline(tmp_path, commit):
    path, source, sink, topics = write_pipeline(tmp_path, commit=commit)
    text = path.read_text().replace("processing:\n", "processing:\n  guarantee: exactly_once\n")
    path.write_text(text)
    return path, source, sink, topics


def trickle(bootstrap, topic, chunk, batches=20):
    for b in range(batches):
        produce_partitions(bootstrap, topic, {p: v[b * len(v) // batches:(b + 1) * len(v) // batches]
                                              for p, v in chunk.items()})
        time.sleep(0.1)


def test_exactly_once_under_repeated_kill9(tmp_path, bootstrap, weir):
    path, source, sink, topics = eos_pipeline(tmp_path, commit="100ms")
    create_topics(bootstrap, topics)
    parts = random_partitions(seed=13, per_partition=5000)
    want, late = expected(parts)
    assert len(want) > 100 and late > 0

    rng = random.Random(17)
    state = tmp_path / "state"
    slices = 12
    for i in range(slices):
        chunk = {p: v[i * len(v) // slices:(i + 1) * len(v) // slices] for p, v in parts.items()}
        w = weir(path, state_dir=state, extra_args=["--instance-id", "eos-0"])
        # Records arrive in small batches while the worker runs, so the kill
        # lands mid-stream, between and during its 100 ms commits.
        feeder = threading.Thread(target=trickle, args=(bootstrap, source, chunk))
        feeder.start()
        time.sleep(rng.uniform(0.3, 2.5))
        if i < slices - 1:
            w.kill9()
        feeder.join()
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=180, idle=4)
    assert w.stop() == 0, w.log_text()
    assert_same(as_results(records), want)
    assert len(records) == len(want), (
        f"{len(records) - len(want)} results were seen more than once by a read_committed reader")


def test_exactly_once_restores_a_lost_state_dir(tmp_path, bootstrap, weir):
    """Local state trailing the committed offsets (here: lost entirely) is
    restored from the changelog without writing any result twice."""
    path, source, sink, topics = eos_pipeline(tmp_path, commit="100ms")
    create_topics(bootstrap, topics)
    parts = random_partitions(seed=29, per_partition=1500)
    want, _ = expected(parts)
    first = {p: v[: len(v) // 2] for p, v in parts.items()}
    second = {p: v[len(v) // 2:] for p, v in parts.items()}

    w = weir(path, state_dir=tmp_path / "a")
    produce_partitions(bootstrap, source, first)
    consume_all(bootstrap, sink, min_count=1, timeout=60, idle=3)
    assert w.stop() == 0, w.log_text()

    w = weir(path, state_dir=tmp_path / "b")  # a fresh state directory
    produce_partitions(bootstrap, source, second)
    records = consume_all(bootstrap, sink, min_count=len(want), timeout=120, idle=4)
    assert w.stop() == 0, w.log_text()
    assert "state restored from the changelog" in w.log_text()
    assert_same(as_results(records), want)
    assert len(records) == len(want)
