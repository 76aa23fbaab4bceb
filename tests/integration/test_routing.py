"""Routing with `sinks:` against the real broker: each record is written to
the first sink whose `when` is true, with that sink's key; a record that
matches no sink is dropped and counted in weir_unrouted_records_total; a
`when` that fails on a record is dead-lettered as an error of step `sink`;
each sink topic has its own weir_records_produced_total series; `weir run`
refuses to start when a sink topic is missing, and `weir explain` lists the
sinks with their conditions."""
import json
import subprocess

from conftest import consume_all, create_topics, produce, unique
from test_tables import metric, metrics_port, wait_for

PIPELINE = """
pipeline: {name}
source: {{topic: {source}, event_time: {{field: ts}}}}
steps:
  - map: {{level: lower(level)}}
sinks:
  - {{topic: {errors}, key: service, when: level == "error"}}
  - {{topic: {slow}, when: latency_ms > 1000}}
  - {{topic: {warnings}, key: 'concat(service, "/", level)', when: level == "warn"}}
errors: {{dead_letter_topic: {dlq}}}
processing: {{commit_interval: 200ms}}
"""


def event(ts, service, level, latency=None):
    v = {"ts": ts, "service": service, "level": level}
    if latency is not None:
        v["latency_ms"] = latency
    return json.dumps(v)


def test_records_go_to_the_first_matching_sink_and_the_rest_are_counted(
        tmp_path, bootstrap, weir):
    name, source = unique("routing"), unique("logs")
    errors, slow, warnings, dlq = (unique("errors"), unique("slow"), unique("warnings"),
                                   unique("logs-dlq"))
    create_topics(bootstrap, {source: 2, errors: 1, slow: 1, warnings: 1, dlq: 1})
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, errors=errors, slow=slow,
                                    warnings=warnings, dlq=dlq))
    produce(bootstrap, source, [
        (0, "r1", event(1000, "api", "ERROR", 5000), 1000),   # errors (first match wins)
        (1, "r2", event(1001, "db", "info", 1500), 1001),     # slow
        (0, "r3", event(1002, "api", "warn", 20), 1002),      # warnings
        (1, "r4", event(1003, "web", "info", 10), 1003),      # no sink: dropped, counted
        (0, "r5", event(1004, "web", "debug"), 1004),         # latency null: no sink
        (1, "r6", event(1005, "db", "Error"), 1005),          # errors
        (0, "r7", event(1006, "api", "info", "slow"), 1006),  # "slow" > 1000: type_error
        (1, "r8", event(1007, "db", "warn", 3000), 1007),     # slow before warnings
    ])

    w = weir(path, metrics_listen="127.0.0.1:0")
    port = metrics_port(w)
    to_errors = consume_all(bootstrap, errors, min_count=2, timeout=60, idle=1)
    to_slow = consume_all(bootstrap, slow, min_count=2, timeout=60, idle=1)
    to_warnings = consume_all(bootstrap, warnings, min_count=1, timeout=60, idle=1)
    dead = consume_all(bootstrap, dlq, min_count=1, timeout=60, idle=1, raw=True)

    def written(records):
        return sorted((r["key"], r["timestamp"], r["value"]) for r in records)

    assert written(to_errors) == [
        ("api", 1000, {"ts": 1000, "service": "api", "level": "error", "latency_ms": 5000}),
        ("db", 1005, {"ts": 1005, "service": "db", "level": "error"}),
    ]
    assert written(to_slow) == [
        ("r2", 1001, {"ts": 1001, "service": "db", "level": "info", "latency_ms": 1500}),
        ("r8", 1007, {"ts": 1007, "service": "db", "level": "warn", "latency_ms": 3000}),
    ]
    assert written(to_warnings) == [
        ("api/warn", 1002, {"ts": 1002, "service": "api", "level": "warn", "latency_ms": 20}),
    ]
    assert len(dead) == 1
    d = dead[0]
    assert d["key"] == "r7" and d["value"] == event(1006, "api", "info", "slow").encode()
    assert d["headers"]["weir.error.code"] == b"type_error"
    assert d["headers"]["weir.error.step"] == b"sink"
    assert d["headers"]["weir.source.partition"] == b"0"

    def produced(topic):
        return metric(port, f'weir_records_produced_total{{pipeline="{name}",topic="{topic}"}}')

    wait_for("the counters", lambda: metric(
        port, f'weir_unrouted_records_total{{pipeline="{name}"}}') == 2)
    assert produced(errors) == 2
    assert produced(slow) == 2
    assert produced(warnings) == 1
    assert metric(port, f'weir_record_errors_total{{pipeline="{name}",step="sink",'
                        f'error="type_error"}}') == 1
    assert w.stop() == 0, w.log_text()


def test_run_stops_when_a_sink_topic_is_missing(tmp_path, bootstrap, weir):
    name, source, errors = unique("routing"), unique("logs"), unique("errors")
    missing, dlq = unique("never-created"), unique("logs-dlq")
    create_topics(bootstrap, {source: 1, errors: 1, dlq: 1})
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, errors=errors, slow=missing,
                                    warnings=errors, dlq=dlq))
    w = weir(path)
    assert w.proc.wait(60) == 1
    log = w.log_text()
    assert "output topic unavailable" in log and missing in log, log


def test_explain_lists_the_sinks_with_their_conditions(tmp_path, weir_bin):
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name="routing", source="logs", errors="errors",
                                    slow="slow", warnings="warnings", dlq="dlq"))
    out = subprocess.run([weir_bin, "explain", str(path)], capture_output=True, text=True,
                         check=True).stdout
    assert ("  sinks: each record to the first whose condition is true; a record matching none "
            "is dropped (weir_unrouted_records_total)\n"
            "    1. when level == \"error\": topic errors, key service\n"
            "    2. when latency_ms > 1000: topic slow, key the record's key (window results: "
            "the group key)\n"
            "    3. when level == \"warn\": topic warnings, key concat(service, \"/\", level)\n"
            ) in out, out
