"""weir against a mutual-TLS listener: the broker requires a client
certificate, and the passphrase of weir's key comes from the environment
(--kafka-property ssl.key.password=env:NAME), never the command line.

scripts/test.sh starts its broker with WEIR_KAFKA_TLS=1 and sets
WEIR_TEST_TLS_BOOTSTRAP and WEIR_TEST_TLS_CLIENT_CONF (the librdkafka
properties scripts/kafka.sh writes: the CA, the client's certificate and
encrypted key, and the key's password). Topics are created and read through
the PLAINTEXT listener (WEIR_TEST_BOOTSTRAP), weir alone talks SSL.
"""
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from conftest import WeirProcess, consume_all, create_topics, produce, unique
from small_window import EVENTS, EXPECTED, PIPELINE

PASSWORD_VARIABLE = "WEIR_TEST_TLS_KEY_PASSWORD"


@pytest.fixture(scope="session")
def tls():
    """(bootstrap, client properties): the TLS listener and what a client needs."""
    b = os.environ.get("WEIR_TEST_TLS_BOOTSTRAP")
    conf = os.environ.get("WEIR_TEST_TLS_CLIENT_CONF")
    if not b or not conf:
        pytest.skip("WEIR_TEST_TLS_BOOTSTRAP or WEIR_TEST_TLS_CLIENT_CONF is not set: no TLS "
                    "listener (scripts/test.sh starts one with WEIR_KAFKA_TLS=1)")
    props = {}
    for line in Path(conf).read_text().splitlines():
        if line and not line.startswith("#"):
            k, v = line.split("=", 1)
            props[k] = v
    assert props["security.protocol"] == "SSL"
    for k in ("ssl.ca.location", "ssl.certificate.location", "ssl.key.location"):
        assert Path(props[k]).is_file(), k
    assert "ENCRYPTED PRIVATE KEY" in Path(props["ssl.key.location"]).read_text()
    return b, props


def setup_pipeline(tmp_path, bootstrap):
    """Creates the topics and the input through PLAINTEXT; returns (pipeline, sink)."""
    name, source, sink = unique("tls"), unique("tls-in"), unique("tls-out")
    create_topics(bootstrap, {source: 1, sink: 1})
    produce(bootstrap, source,
            [(0, e["user"], json.dumps(e), e["ts"]) for e in EVENTS])
    path = tmp_path / "pipeline.yaml"
    path.write_text(PIPELINE.format(name=name, source=source, sink=sink))
    return path, sink


def tls_args(props, client_certificate=True):
    args = ["--kafka-property", "security.protocol=SSL",
            "--kafka-property", f"ssl.ca.location={props['ssl.ca.location']}"]
    if client_certificate:
        args += ["--kafka-property", f"ssl.certificate.location={props['ssl.certificate.location']}",
                 "--kafka-property", f"ssl.key.location={props['ssl.key.location']}",
                 "--kafka-property", f"ssl.key.password=env:{PASSWORD_VARIABLE}"]
    return args


def start(weir_bin, pipeline, tls_bootstrap, tmp_path, args):
    return WeirProcess(weir_bin, pipeline, tls_bootstrap, tmp_path / "state",
                       tmp_path / "weir.log", "", args)


def fails(w, timeout=90):
    """Waits for weir to exit by itself; returns (exit status, log)."""
    try:
        code = w.proc.wait(timeout)
    finally:
        if w.alive():
            w.kill9()
    if not w.log.closed:
        w.log.close()
    return code, w.log_text()


def test_mutual_tls_with_the_key_password_from_the_environment(
        tls, tmp_path, bootstrap, weir_bin, monkeypatch):
    tls_bootstrap, props = tls
    password = props["ssl.key.password"]
    monkeypatch.setenv(PASSWORD_VARIABLE, password)
    pipeline, sink = setup_pipeline(tmp_path, bootstrap)
    w = start(weir_bin, pipeline, tls_bootstrap, tmp_path, tls_args(props))
    try:
        # The secret is not on the command line (ps, /proc).
        assert password.encode() not in Path(f"/proc/{w.proc.pid}/cmdline").read_bytes()
        records = consume_all(bootstrap, sink, min_count=len(EXPECTED), timeout=60, idle=3)
        assert w.stop() == 0, w.log_text()
    finally:
        if w.alive():
            w.kill9()
    assert {r["key"]: r["value"] for r in records} == EXPECTED, w.log_text()
    assert len(records) == len(EXPECTED), "a clean run emits each window once"
    assert password not in w.log_text()


def test_without_a_client_certificate_the_broker_refuses_and_weir_exits_1(
        tls, tmp_path, bootstrap, weir_bin):
    tls_bootstrap, props = tls
    pipeline, _ = setup_pipeline(tmp_path, bootstrap)
    started = time.time()
    # The broker refuses at once; the topic lookup gives up after the
    # --startup-timeout (default 30 s).
    code, log = fails(start(weir_bin, pipeline, tls_bootstrap, tmp_path,
                            tls_args(props, client_certificate=False) + ["--startup-timeout", "5s"]))
    assert code == 1, log
    assert time.time() - started < 90
    # librdkafka's error names the broker and the TLS alert the broker sent.
    assert f"ssl://{tls_bootstrap}" in log, log
    assert "certificate required" in log, log
    assert "source topic unavailable" in log, log
    assert props["ssl.key.password"] not in log


def test_a_wrong_key_password_is_an_error_that_shows_neither_password(
        tls, tmp_path, bootstrap, weir_bin, monkeypatch):
    tls_bootstrap, props = tls
    wrong = "wrong-" + uuid.uuid4().hex
    monkeypatch.setenv(PASSWORD_VARIABLE, wrong)
    pipeline, _ = setup_pipeline(tmp_path, bootstrap)
    code, log = fails(start(weir_bin, pipeline, tls_bootstrap, tmp_path, tls_args(props)))
    assert code == 1, log
    # The client cannot be created: librdkafka cannot decrypt the key.
    assert "ssl.key.location" in log, log
    assert wrong not in log and props["ssl.key.password"] not in log
