"""Checks of the deployment kit in deploy/ that need neither Kafka nor Docker.

Every YAML file parses; the dashboard and the alert rules use only metrics
weir exports (found by reading the registration calls in src/) and
Prometheus' `up`; docs/metrics.md lists every exported metric; the
Kubernetes, compose and systemd files agree with each other and with weir's
flags. Uses no broker fixture.
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "weir.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"

REGISTRATION = re.compile(
    r"\badd_(counter|gauge|histogram|callback_gauge|callback_counter)\s*\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")


def registered_metrics():
    """{name: kind} from every registration call under src/."""
    found = {}
    for path in sorted((ROOT / "src").rglob("*.cc")):
        for kind, name in REGISTRATION.findall(path.read_text(encoding="utf-8")):
            found[name] = kind
    return found


def exported_series_names():
    """Names that can appear in a PromQL query against weir, plus `up`."""
    names = {"up"}
    for name, kind in registered_metrics().items():
        if kind == "histogram":
            names |= {name + "_bucket", name + "_sum", name + "_count"}
        else:
            names.add(name)
    return names


# PromQL words that are not metric names: functions are caught by the "(" that
# follows them; these are keywords, aggregation modifiers and literals.
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
    "and", "or", "unless", "offset", "inf", "nan", "atan2",
}


def metric_names(expr):
    """Metric names a PromQL expression selects."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # ranges and subqueries
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"@\s*\S+", " ", e)  # @ modifiers
    names = set()
    for m in re.finditer(r"(?<![\w.$:])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", e):
        word, call = m.group(1), m.group(2)
        if call or word.lower() in PROMQL_WORDS:
            continue
        if re.fullmatch(r"\d+[smhdwy]", word):
            continue
        names.add(word)
    return names


def load_yaml_documents(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def yaml_files():
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml"))


def dashboard():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_panels(d):
    for p in d["panels"]:
        yield p
        yield from p.get("panels", [])


def dashboard_exprs(d):
    for p in dashboard_panels(d):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield p["title"], t["expr"]
    for v in d.get("templating", {}).get("list", []):
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        if v.get("type") == "query" and q:
            m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\)\s*", q)
            yield "variable " + v["name"], m.group(1) if m else q


def alert_rules():
    for g in load_yaml_documents(ALERTS)[0]["groups"]:
        yield from g["rules"]


def k8s_documents():
    docs = []
    for p in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        if p.name == "kustomization.yaml":
            continue
        docs += [(p, d) for d in load_yaml_documents(p)]
    return docs


def k8s(kind):
    found = [d for _, d in k8s_documents() if d["kind"] == kind]
    assert found, f"no {kind} in deploy/kubernetes"
    return found


# --- parsing ---------------------------------------------------------------


def test_every_yaml_file_parses():
    files = yaml_files()
    assert len(files) >= 10, files
    for p in files:
        assert load_yaml_documents(p), f"{p} is empty"


def test_dashboard_parses_and_is_provisionable():
    d = dashboard()
    assert d["uid"] == "weir"
    assert d["schemaVersion"] >= 36
    ids = [p["id"] for p in dashboard_panels(d)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in d["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert "pipeline" in variables
    # The provisioned data source is the variable's default.
    ds = load_yaml_documents(DEPLOY / "grafana/provisioning/datasources/prometheus.yaml")[0]
    uids = {s["uid"] for s in ds["datasources"]}
    assert variables["DS_PROMETHEUS"]["current"]["value"] in uids
    for p in dashboard_panels(d):
        if p["type"] != "row":
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", p["title"]
            assert p["targets"], p["title"]


# --- metric names ----------------------------------------------------------


def test_metric_name_extraction():
    assert metric_names(
        'histogram_quantile(0.99, sum by (pipeline, le) (rate(a_bucket{job="x",le!="1"}[5m] offset 1h)))'
        ' / on(instance) group_left(version) b > 1.6e9 and c{pipeline=~"$pipeline"}[$__rate_interval]'
    ) == {"a_bucket", "b", "c"}
    assert metric_names("time() - process_start_time_seconds") == {"process_start_time_seconds"}


def test_registered_metrics_are_found():
    found = registered_metrics()
    for name in ("weir_records_consumed_total", "weir_record_errors_total",
                 "weir_checkpoint_duration_seconds", "process_resident_memory_bytes",
                 "weir_build_info"):
        assert name in found, f"the registration grep missed {name}: {sorted(found)}"
    assert found["weir_checkpoint_duration_seconds"] == "histogram"


def test_dashboard_uses_only_exported_metrics():
    exported = exported_series_names()
    used = set()
    for title, expr in dashboard_exprs(dashboard()):
        names = metric_names(expr)
        assert names, f"no metric found in {title}: {expr}"
        unknown = names - exported
        assert not unknown, f"dashboard panel {title!r} uses metrics weir does not export: {unknown}"
        used |= names
    for must in ("weir_records_consumed_total", "weir_records_produced_total",
                 "weir_record_errors_total", "weir_dead_letter_records_total",
                 "weir_late_records_total", "weir_windows_emitted_total",
                 "weir_checkpoint_duration_seconds_bucket", "weir_checkpoint_failures_total",
                 "weir_consumer_lag_records", "weir_watermark_lag_seconds",
                 "process_resident_memory_bytes", "process_cpu_seconds_total", "weir_build_info"):
        assert must in used, f"the dashboard has no panel for {must}"


def test_alert_rules_use_only_exported_metrics():
    exported = exported_series_names()
    rules = list(alert_rules())
    assert rules
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "alert names must be unique"
    for r in rules:
        assert set(r) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, r
        assert r["labels"]["severity"] in ("critical", "warning", "info"), r["alert"]
        assert r["annotations"]["summary"], r["alert"]
        used = metric_names(r["expr"])
        assert used, f"no metric found in alert {r['alert']}: {r['expr']}"
        unknown = used - exported
        assert not unknown, f"alert {r['alert']} uses metrics weir does not export: {unknown}"


def test_alert_rules_pass_promtool_when_available():
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool is not installed")
    out = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_prometheus_rule_matches_alerts_file():
    (rule,) = k8s("PrometheusRule")
    assert rule["spec"]["groups"] == load_yaml_documents(ALERTS)[0]["groups"]


def test_metrics_doc_lists_every_exported_metric():
    doc = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_:][a-z0-9_:]*)`", doc))
    missing = set(registered_metrics()) - documented
    assert not missing, f"docs/metrics.md does not list {sorted(missing)}"
    exported = exported_series_names() | set(registered_metrics())
    for name in re.findall(r"\b((?:weir|process)_[a-z0-9_]+)\b", doc):
        assert name in exported, f"docs/metrics.md names {name}, which weir does not export"


# --- consistency of the manifests -------------------------------------------


def run_flags():
    """The WEIR_* environment twins of `weir run`'s flags."""
    main = (ROOT / "src" / "app" / "main.cc").read_text(encoding="utf-8")
    flags = set(re.findall(r'envname\("(WEIR_[A-Z_]+)"\)', main))
    assert "WEIR_BOOTSTRAP_SERVERS" in flags
    return flags


def test_kubernetes_manifests_are_namespace_agnostic():
    for path, d in k8s_documents():
        assert {"apiVersion", "kind", "metadata"} <= set(d), path
        assert d["metadata"].get("name"), path
        assert "namespace" not in d["metadata"], f"{path}: {d['kind']} sets a namespace"
    kust = load_yaml_documents(DEPLOY / "kubernetes" / "kustomization.yaml")[0]
    listed = set(kust["resources"])
    on_disk = {p.name for p in (DEPLOY / "kubernetes").glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_statefulset():
    (sts,) = k8s("StatefulSet")
    spec = sts["spec"]
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert set(env) <= run_flags() | {"WEIR_PIPELINES"}, set(env) - run_flags()
    assert env["WEIR_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert "WEIR_BOOTSTRAP_SERVERS" in env
    port = next(p for p in c["ports"] if p["name"] == "metrics")
    assert env["WEIR_METRICS_LISTEN"]["value"].endswith(":%d" % port["containerPort"])
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "memory" in c["resources"]["limits"]
    assert pod["terminationGracePeriodSeconds"] >= 30
    claims = {t["metadata"]["name"] for t in spec["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    state_dir = env["WEIR_STATE_DIR"]["value"]
    assert any(mounts.get(n) == state_dir for n in claims), "the state dir is not on a claim"
    # Every pipeline file the pod runs is a key of the mounted ConfigMap.
    (cm,) = k8s("ConfigMap")
    vol = next(v for v in pod["volumes"] if v.get("configMap", {}).get("name") == cm["metadata"]["name"])
    pipeline_dir = mounts[vol["name"]]
    files = [a for a in c["args"] if a.endswith(".yaml")]
    assert c["args"][0] == "run" and files
    for f in files:
        assert f.startswith(pipeline_dir + "/") and f[len(pipeline_dir) + 1:] in cm["data"], f
    # Services select the pods; the ServiceMonitor selects the metrics Service.
    pod_labels = spec["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    services = {s["metadata"]["name"]: s for s in k8s("Service")}
    assert services[spec["serviceName"]]["spec"]["clusterIP"] == "None"
    (sm,) = k8s("ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    selected = [s for s in services.values()
                if sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
    assert len(selected) == 1
    assert selected[0]["metadata"]["name"] == "weir", "the alerts expect job=\"weir\""
    for s in services.values():
        assert s["spec"]["selector"].items() <= pod_labels.items()
    assert {e["port"] for e in sm["spec"]["endpoints"]} <= {p["name"] for p in selected[0]["spec"]["ports"]}
    assert all(e["path"] == "/metrics" for e in sm["spec"]["endpoints"])


def test_configmap_pipeline_is_the_example_without_tests():
    (cm,) = k8s("ConfigMap")
    example = yaml.safe_load((ROOT / "pipelines" / "page-views.yaml").read_text(encoding="utf-8"))
    example.pop("tests", None)
    assert yaml.safe_load(cm["data"]["page-views.yaml"]) == example


def test_configmap_pipelines_validate(tmp_path):
    weir = Path(os.environ.get("WEIR_BIN", ROOT / "build" / "weir"))
    if not weir.exists():
        pytest.skip(f"{weir} is not built")
    (cm,) = k8s("ConfigMap")
    for name, text in cm["data"].items():
        f = tmp_path / name
        f.write_text(text, encoding="utf-8")
        out = subprocess.run([str(weir), "validate", str(f)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr


def test_compose():
    compose = load_yaml_documents(DEPLOY / "compose.yaml")[0]
    services = compose["services"]
    assert {"kafka", "topic-init", "weir", "prometheus", "grafana"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:3.9.")
    # Every bind-mounted file exists.
    for name, s in services.items():
        for v in s.get("volumes", []):
            source = v.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"
    weir = services["weir"]
    assert (DEPLOY / weir["build"]["context"] / weir["build"]["dockerfile"]).resolve() == \
        (DEPLOY / "Dockerfile").resolve()
    assert set(weir["environment"]) <= run_flags()
    # The topics the pipeline reads and writes are created before weir starts.
    pipeline = yaml.safe_load((ROOT / "pipelines" / "page-views.yaml").read_text(encoding="utf-8"))
    init = "\n".join(services["topic-init"]["command"])
    for topic in (pipeline["source"]["topic"], pipeline["sink"]["topic"]):
        assert re.search(r"\b%s\b" % re.escape(topic), init), topic
    assert weir["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"
    # Prometheus scrapes weir's metrics port and loads the alert rules.
    prom = load_yaml_documents(DEPLOY / "prometheus" / "prometheus.yml")[0]
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "weir")
    port = weir["environment"]["WEIR_METRICS_LISTEN"].rsplit(":", 1)[1]
    assert job["static_configs"][0]["targets"] == [f"weir:{port}"]
    mounted = {v.split(":")[1] for v in services["prometheus"]["volumes"]}
    assert set(prom["rule_files"]) <= mounted


def test_dockerfile():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    stages = re.findall(r"^FROM\s+(\S+)", text, re.M)
    assert len(stages) == 2 and stages[1].endswith("-slim"), stages
    for line in ("VOLUME /var/lib/weir", "EXPOSE 9464", 'ENTRYPOINT ["weir"]', "USER weir"):
        assert line in text, line
    assert "WEIR_METRICS_LISTEN=0.0.0.0:9464" in text
    assert "--target weir" in text and "CMAKE_BUILD_TYPE=Release" in text
    # The build stage installs the libraries scripts/install-deps.sh lists.
    deps = (ROOT / "scripts" / "install-deps.sh").read_text(encoding="utf-8")
    libs = re.search(r"# libraries\n(.*?)\n\s*#", deps, re.S).group(1).split()
    build_stage = text.split("\nFROM ")[1]
    for lib in libs:
        assert re.search(r"\b%s\b" % re.escape(lib), build_stage), lib


def runtime_packages():
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    runtime = text.split("AS runtime", 1)[1]
    install = re.search(r"apt-get install[^\n]*\\\n(.*?)&&", runtime, re.S).group(1)
    return set(install.replace("\\", " ").split())


def test_runtime_image_has_the_binarys_libraries():
    weir = Path(os.environ.get("WEIR_BIN", ROOT / "build" / "weir"))
    if not weir.exists() or not shutil.which("readelf") or not shutil.which("dpkg-query"):
        pytest.skip("needs a built weir, readelf and dpkg")
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]",
                        subprocess.run(["readelf", "-d", str(weir)], capture_output=True,
                                       text=True).stdout)
    assert needed
    # In every debian:12-slim image.
    provided = runtime_packages() | {"libc6", "libgcc-s1", "libstdc++6"}
    for soname in needed:
        if "asan" in soname or "ubsan" in soname:
            pytest.skip(f"{weir} is a sanitizer build")
        out = subprocess.run(["dpkg-query", "-S", soname], capture_output=True, text=True).stdout
        owners = {line.split(":")[0] for line in out.splitlines()
                  if Path(line.split(": ", 1)[-1]).name.startswith(soname)}
        assert owners, f"no package owns {soname}"
        assert owners & provided, f"{soname} comes from {owners}, not installed in the runtime image"


def test_systemd_unit():
    text = (DEPLOY / "systemd" / "weir.service").read_text(encoding="utf-8")
    keys = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, v = line.split("=", 1)
            keys.setdefault(k.strip(), []).append(v.strip())
    for k, v in {"Type": "simple", "User": "weir", "StateDirectory": "weir",
                 "Restart": "on-failure", "KillSignal": "SIGTERM", "TimeoutStopSec": "60",
                 "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"}.items():
        assert keys.get(k) == [v], (k, keys.get(k))
    env_file = keys["EnvironmentFile"][0].lstrip("-")
    assert Path(env_file).name == "weir.env"
    env = {}
    for line in (DEPLOY / "systemd" / "weir.env").read_text(encoding="utf-8").splitlines():
        m = re.match(r"#?(WEIR_[A-Z_]+)=(.*)", line)
        if m:
            env[m.group(1)] = m.group(2)
    assert set(env) <= run_flags() | {"WEIR_PIPELINES"}, set(env) - run_flags()
    assert "$WEIR_PIPELINES" in keys["ExecStart"][0]
