"""The weir command line without a broker: explain, version, usage errors."""
import subprocess
import time

from conftest import ROOT


def run(weir_bin, *args):
    return subprocess.run([weir_bin, *args], capture_output=True, text=True)


def test_explain_shows_steps_keys_state_and_time_policy(weir_bin):
    out = run(weir_bin, "explain", str(ROOT / "pipelines" / "card-velocity.yaml"))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for line in [
        "  consumer group: card-velocity",
        "    event time: field ts (epoch_ms)",
        "    watermark:  per partition, max event time - 5s (never backwards, checkpointed)",
        "    idleness:   after 30s of silence the watermark follows the wall clock",
        "    window velocity: group by [card_id] (the result key)",
        "      kind:      hopping size 10m advance 1m (panes of 1m), closes at watermark >= end + lateness",
        "      lateness:  30s",
        "      emit:      final (one result per window)",
        "      state:     card-velocity.velocity (RocksDB column family, keys by partition)",
        "  sink: topic card-alerts, key card_id",
        "    card-velocity.velocity.changelog: changelog of card-velocity.velocity, compacted, "
        "one partition per partition of payments",
    ]:
        assert line + "\n" in text, f"missing {line!r} in:\n{text}"


def test_explain_shows_where_a_pipeline_repartitions(tmp_path, weir_bin):
    f = tmp_path / "regions.yaml"
    f.write_text("""pipeline: regions
source: {topic: clicks, partitioned_by: user, event_time: {field: ts}}
steps:
  - filter: kind == "buy"
  - id: by_region
    window: {group_by: [region], tumbling: 10s, aggregate: {n: count()}}
  - id: per_user
    window: {group_by: [region, window_start], tumbling: 1m, aggregate: {m: count()}}
sink: {topic: out}
""")
    out = run(weir_bin, "explain", str(f))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for line in [
        "    -- repartition by the group key of by_region through regions.by_region.repartition "
        "(its group_by is not covered by the partitioning before it; not needed when clicks has "
        "one partition)",
        "    regions.by_region.repartition: records keyed by the group key of by_region and the "
        "upstream watermarks, one partition per partition of clicks, records deleted once read "
        "(only when it has several partitions)",
    ]:
        assert line + "\n" in text, f"missing {line!r} in:\n{text}"
    # Grouped by [region, window_start] after a repartition by [region]: covered, no second one.
    assert text.count("-- repartition") == 1, text
    assert "lowest of the source partitions' watermarks" in text


def test_explain_of_a_broken_file_prints_its_problems(tmp_path, weir_bin):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline: x\nsource: {topic: a}\nsink: {topic: o}\nsteps:\n  - filter: a >\n")
    out = run(weir_bin, "explain", str(bad))
    assert out.returncode == 1
    assert out.stdout.startswith(f"{bad}:5:")


def test_version(weir_bin):
    out = run(weir_bin, "version")
    assert out.returncode == 0 and out.stdout.startswith("weir ")


def test_run_without_a_reachable_topic_fails_clearly(tmp_path, weir_bin):
    # Nothing listens on this port: weir says so and exits 1 instead of
    # hanging, once the --startup-timeout (default 30 s) has passed.
    p = ROOT / "pipelines" / "page-views.yaml"
    started = time.time()
    out = subprocess.run([weir_bin, "run", str(p), "--bootstrap-servers", "127.0.0.1:1",
                          "--state-dir", str(tmp_path / "s"), "--metrics-listen", "",
                          "--startup-timeout", "3s"],
                         capture_output=True, text=True, timeout=90)
    elapsed = time.time() - started
    assert out.returncode == 1
    assert "source topic unavailable" in out.stderr
    assert 3 <= elapsed < 20, elapsed


def test_startup_timeout_must_be_a_positive_duration(tmp_path, weir_bin):
    p = ROOT / "pipelines" / "page-views.yaml"
    for value, why in [("5", "missing unit"), ("0s", "must be more than 0")]:
        out = run(weir_bin, "run", str(p), "--startup-timeout", value)
        assert out.returncode != 0
        assert why in out.stderr, out.stderr
