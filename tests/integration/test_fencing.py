"""exactly_once with a zombie (DESIGN.md §3 Delivery, §5): two processes
share one --instance-id, hence one transactional.id and one static group
membership. Worker A is frozen (SIGSTOP) while a transaction of its holds
window results; worker B starts with the same --instance-id, fences A and
takes its partitions over; A is thawed (SIGCONT). A must not get any of its
outputs committed and must exit non-zero, saying it was fenced; B keeps
running. A read_committed reader sees every window result exactly once, with
exactly the values of the independent model."""
import collections
import signal
import time

from confluent_kafka import Consumer, TopicPartition

from conftest import WeirProcess, consume_all, create_topics, unique
from test_windows import expected, produce_partitions, random_partitions, write_pipeline

INSTANCE = "zombie"


def fencing_pipeline(tmp_path):
    path, source, sink, topics = write_pipeline(tmp_path, commit="1s")
    text = path.read_text()
    text = text.replace("processing:\n", "processing:\n  guarantee: exactly_once\n")
    # Workers pause on purpose here: wall-clock idleness must not close
    # windows, or the results would depend on timing.
    text = text.replace("watermark: {max_out_of_orderness: 1s}",
                        "watermark: {max_out_of_orderness: 1s, idle_timeout: off}")
    assert "idle_timeout: off" in text and "exactly_once" in text
    path.write_text(text)
    return path, source, sink, topics


class sink_offsets:
    """The sink's end offset as a read_uncommitted and a read_committed
    reader see it; they differ while a transaction holding records is open."""

    def __init__(self, bootstrap, topic):
        self.tp = TopicPartition(topic, 0)
        self.readers = {iso: Consumer({"bootstrap.servers": bootstrap, "group.id": unique("offsets"),
                                       "isolation.level": iso})
                        for iso in ("read_uncommitted", "read_committed")}

    def ends(self):
        return tuple(self.readers[iso].get_watermark_offsets(self.tp, timeout=10, cached=False)[1]
                     for iso in ("read_uncommitted", "read_committed"))

    def open_transaction(self):
        high, stable = self.ends()
        return high > stable

    def close(self):
        for c in self.readers.values():
            c.close()


def field_differs(field, got, want):
    if field == "mean" and isinstance(got, (int, float)) and want is not None:
        return abs(got - want) > 1e-9 * max(1, abs(want))
    return got != want


def differences(records, want):
    """What a read_committed reader saw that differs from the model, as lines."""
    seen = collections.defaultdict(list)
    for r in records:
        v = r["value"]
        seen[(v.get("user"), v.get("window_start"))].append(r)
    lines = []
    for k in sorted(set(want) - set(seen))[:10]:
        lines.append(f"missing {k}: want {want[k]}")
    for k in sorted(set(seen) - set(want))[:10]:
        lines.append(f"unexpected {k}: {[r['value'] for r in seen[k]]}")
    for k in sorted(k for k in seen if len(seen[k]) > 1)[:10]:
        lines.append(f"{len(seen[k])} times {k}: {[r['value'] for r in seen[k]]}")
    for k in sorted(set(seen) & set(want)):
        w, r = want[k], seen[k][0]
        diff = {f: (r["value"].get(f), w[f]) for f in w if field_differs(f, r["value"].get(f), w[f])}
        if list(r["value"]) != list(w):
            diff["field order"] = (list(r["value"]), list(w))
        if r["key"] != w["user"]:
            diff["$key"] = (r["key"], w["user"])
        if r["timestamp"] != w["window_end"] - 1:
            diff["$timestamp"] = (r["timestamp"], w["window_end"] - 1)
        if diff and len(lines) < 40:
            lines.append(f"{k} (got, want): {diff}")
    return lines


def slice_parts(parts, lo, hi):
    return {p: v[int(lo * len(v)):int(hi * len(v))] for p, v in parts.items()}


def wait_until(condition, timeout, what):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.02)


def test_a_zombie_with_the_same_instance_id_is_fenced_and_commits_nothing(
        tmp_path, bootstrap, weir_bin):
    path, source, sink, topics = fencing_pipeline(tmp_path)
    create_topics(bootstrap, topics)
    parts = random_partitions(seed=41, per_partition=1200)
    want, late = expected(parts)
    assert len(want) > 50 and late > 0
    offsets = sink_offsets(bootstrap, sink)
    args = ["--instance-id", INSTANCE]
    a = WeirProcess(weir_bin, path, bootstrap, tmp_path / "a", tmp_path / "a.log", "", args)
    b = None
    try:
        # A commits results of the first part of the input.
        produce_partitions(bootstrap, source, slice_parts(parts, 0, 0.3))
        wait_until(lambda: offsets.ends()[1] > 0 or not a.alive(), 60, "A's first commit")
        assert a.alive(), a.log_text()

        # The second part arrives in small batches; A is frozen as soon as a
        # transaction of its holds results in the sink, before it commits
        # (commit_interval 1s).
        frozen = False
        batches = 8
        for i in range(batches):
            lo, hi = 0.3 + 0.3 * i / batches, 0.3 + 0.3 * (i + 1) / batches
            produce_partitions(bootstrap, source, slice_parts(parts, lo, hi))
            if frozen:
                continue
            deadline = time.time() + 0.4
            while time.time() < deadline and not offsets.open_transaction():
                time.sleep(0.01)
            if offsets.open_transaction():
                a.proc.send_signal(signal.SIGSTOP)
                time.sleep(0.5)  # an EndTxn already sent would have completed
                if offsets.open_transaction():
                    frozen = True
                else:
                    a.proc.send_signal(signal.SIGCONT)
        assert frozen, "A was never frozen with an open transaction holding results"
        pending = offsets.ends()

        # B, same --instance-id: fences A and aborts its transaction, takes
        # every partition over and restores the state from the changelogs.
        b = WeirProcess(weir_bin, path, bootstrap, tmp_path / "b", tmp_path / "b.log", "", args)
        produce_partitions(bootstrap, source, slice_parts(parts, 0.6, 0.8))
        # A's aborted transaction ends with one marker in the sink; past it,
        # B has committed results of its own.
        wait_until(lambda: offsets.ends()[1] >= pending[0] + 2 or not b.alive(), 60,
                   "B's first commit after the takeover")
        assert b.alive(), b.log_text()

        # A thaws: whatever it still tries to commit is refused; it exits
        # non-zero and says why.
        a.proc.send_signal(signal.SIGCONT)
        try:
            code = a.proc.wait(30)
        except Exception:
            raise AssertionError("A kept running after it was fenced:\n" + a.log_text()[-4000:])
        a_log = a.log_text()
        assert code == 1, a_log[-4000:]
        failed = [line for line in a_log.splitlines() if "worker failed" in line]
        assert failed and "error=\"fenced: another" in failed[0] and "--instance-id" in failed[0], (
            a_log[-4000:])

        # B was not disturbed by A's return, and finishes the input.
        produce_partitions(bootstrap, source, slice_parts(parts, 0.8, 1.0))
        records = consume_all(bootstrap, sink, min_count=len(want), timeout=60, idle=3)
        assert b.alive(), b.log_text()[-4000:]
        assert b.stop() == 0, b.log_text()[-4000:]
        b_log = b.log_text()
        assert "fenced" not in b_log and "worker failed" not in b_log, b_log[-4000:]
        assert "state restored from the changelog" in b_log, b_log[-4000:]
    finally:
        offsets.close()
        for w in (a, b):
            if w and w.alive():
                w.proc.send_signal(signal.SIGCONT)
                w.kill9()

    problems = differences(records, want)
    assert not problems, (f"{len(records)} results read, {len(want)} expected:\n" +
                          "\n".join(problems))
    assert len(records) == len(want)
