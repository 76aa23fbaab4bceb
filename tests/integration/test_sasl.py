"""weir against a SASL/SCRAM listener, with the password kept out of the
pipeline file and the command line (--kafka-property KEY=env:NAME / file:PATH).

scripts/test.sh starts its broker with WEIR_KAFKA_SASL=1 and sets
WEIR_TEST_SASL_BOOTSTRAP; topics are created and read through the PLAINTEXT
listener (WEIR_TEST_BOOTSTRAP), weir alone talks SASL_PLAINTEXT.
"""
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import WeirProcess, consume_all, create_topics, produce, unique
from small_window import EVENTS, EXPECTED, PIPELINE

# The SCRAM user scripts/kafka.sh creates when it formats the broker's storage.
USER = os.environ.get("WEIR_KAFKA_SASL_USER", "weir")
PASSWORD = os.environ.get("WEIR_KAFKA_SASL_PASSWORD", "weir-secret")


@pytest.fixture(scope="session")
def sasl_bootstrap():
    b = os.environ.get("WEIR_TEST_SASL_BOOTSTRAP")
    if not b:
        pytest.skip("WEIR_TEST_SASL_BOOTSTRAP is not set: no SASL listener "
                    "(scripts/test.sh starts one with WEIR_KAFKA_SASL=1)")
    return b


def setup_pipeline(tmp_path, bootstrap):
    """Creates the topics and the input through PLAINTEXT; returns (pipeline, sink)."""
    name, source, sink = unique("sasl"), unique("sasl-in"), unique("sasl-out")
    create_topics(bootstrap, {source: 1, sink: 1})
    produce(bootstrap, source,
            [(0, e["user"], json.dumps(e), e["ts"]) for e in EVENTS])
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, sink=sink))
    return path, sink


def sasl_args(mechanism, password_ref):
    return ["--kafka-property", "security.protocol=SASL_PLAINTEXT",
            "--kafka-property", f"sasl.mechanism={mechanism}",
            "--kafka-property", f"sasl.username={USER}",
            "--kafka-property", f"sasl.password={password_ref}"]


def start(weir_bin, pipeline, sasl_bootstrap, tmp_path, args):
    return WeirProcess(weir_bin, pipeline, sasl_bootstrap, tmp_path / "state",
                       tmp_path / "weir.log", "", args)


def run_and_check(weir_bin, tmp_path, bootstrap, sasl_bootstrap, args):
    pipeline, sink = setup_pipeline(tmp_path, bootstrap)
    w = start(weir_bin, pipeline, sasl_bootstrap, tmp_path, args)
    try:
        records = consume_all(bootstrap, sink, min_count=len(EXPECTED), timeout=60, idle=3)
        assert w.stop() == 0, w.log_text()
    finally:
        if w.alive():
            w.kill9()
    assert {r["key"]: r["value"] for r in records} == EXPECTED, w.log_text()
    assert len(records) == len(EXPECTED), "a clean run emits each window once"
    assert PASSWORD not in w.log_text()
    return w


def test_scram_sha_256_with_the_password_from_the_environment(
        sasl_bootstrap, tmp_path, bootstrap, weir_bin, monkeypatch):
    monkeypatch.setenv("WEIR_TEST_SECRET", PASSWORD)
    run_and_check(weir_bin, tmp_path, bootstrap, sasl_bootstrap,
                  sasl_args("SCRAM-SHA-256", "env:WEIR_TEST_SECRET"))


def test_scram_sha_512_with_the_password_from_a_file(
        sasl_bootstrap, tmp_path, bootstrap, weir_bin):
    secret = tmp_path / "kafka-password"
    secret.write_text(PASSWORD + "\n")  # the trailing newline is not part of it
    secret.chmod(0o600)
    run_and_check(weir_bin, tmp_path, bootstrap, sasl_bootstrap,
                  sasl_args("SCRAM-SHA-512", f"file:{secret}"))


def test_wrong_password_fails_fast_with_an_authentication_error(
        sasl_bootstrap, tmp_path, bootstrap, weir_bin, monkeypatch):
    wrong = "wrong-" + uuid.uuid4().hex
    monkeypatch.setenv("WEIR_TEST_SECRET", wrong)
    pipeline, _ = setup_pipeline(tmp_path, bootstrap)
    started = time.time()
    # The broker refuses at once; the topic lookup gives up after the
    # --startup-timeout (default 30 s).
    w = start(weir_bin, pipeline, sasl_bootstrap, tmp_path,
              sasl_args("SCRAM-SHA-256", "env:WEIR_TEST_SECRET") + ["--startup-timeout", "5s"])
    try:
        # The secret is not on the command line (ps, /proc).
        cmdline = Path(f"/proc/{w.proc.pid}/cmdline").read_bytes()
        assert wrong.encode() not in cmdline
        code = w.proc.wait(90)
    finally:
        if w.alive():
            w.kill9()
    elapsed = time.time() - started
    log = w.log_text()
    assert code == 1, log
    assert elapsed < 90
    assert "Authentication failed" in log or "SASL authentication error" in log, log
    assert wrong not in log and PASSWORD not in log


def weir_run_fails(weir_bin, tmp_path, *args, env=None):
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text(PIPELINE.format(name="p", source="in", sink="out"))
    return subprocess.run([weir_bin, "run", str(pipeline), "--bootstrap-servers", "127.0.0.1:1",
                           "--state-dir", str(tmp_path / "state"), *args],
                          capture_output=True, text=True, timeout=30, env=env)


def test_unset_variable_and_unreadable_file_are_errors_naming_the_key(tmp_path, weir_bin):
    env = {k: v for k, v in os.environ.items() if k != "WEIR_TEST_UNSET_SECRET"}
    out = weir_run_fails(weir_bin, tmp_path, "--kafka-property",
                         "sasl.password=env:WEIR_TEST_UNSET_SECRET", env=env)
    assert out.returncode == 2
    assert out.stderr.strip() == ("--kafka-property sasl.password: environment variable "
                                  "WEIR_TEST_UNSET_SECRET is not set")

    missing = tmp_path / "no-such-file"
    out = weir_run_fails(weir_bin, tmp_path, "--kafka-property", f"ssl.key.password=file:{missing}")
    assert out.returncode == 2
    assert out.stderr.strip() == (f"--kafka-property ssl.key.password: cannot read {missing}: "
                                  "No such file or directory")

    out = weir_run_fails(weir_bin, tmp_path, "--kafka-property", f"sasl.password=file:{tmp_path}")
    assert out.returncode == 2
    assert "sasl.password: cannot read" in out.stderr and "Is a directory" in out.stderr


def test_a_malformed_property_is_not_echoed(tmp_path, weir_bin):
    # The environment twin is comma-separated: a literal password with a comma
    # is split, and its second half has no '='. Neither half is printed.
    env = dict(os.environ, WEIR_KAFKA_PROPERTIES="security.protocol=SASL_PLAINTEXT,"
                                                 "sasl.password=hun7er,zz9q")
    out = weir_run_fails(weir_bin, tmp_path, env=env)
    assert out.returncode == 2
    assert "argument 3 is not KEY=VALUE" in out.stderr and "file:PATH" in out.stderr
    assert "hun7er" not in out.stderr and "zz9q" not in out.stderr
