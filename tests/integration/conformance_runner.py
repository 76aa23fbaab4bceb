"""Turns a conformance case of tests/conformance/ (a pipeline with inline
`tests:`, run by `weir test` on virtual time) into a run against the real
broker: a rewritten pipeline with its own topics, the Kafka records to
produce, and the records the sink and late topics must then hold.

`weir test` raises every partition's watermark with `advance_watermark_to: T`.
Against a broker the same happens through the data: the rewritten pipeline
starts with `filter: $headers.weir_tick == null`, and each advance becomes one
tick record per partition in use, with header weir_tick=1 and event time
T + max_out_of_orderness. The filter drops the tick, but its event time still
moves that partition's watermark to exactly T (DESIGN.md section 3: the
watermark counts every record whose time is readable, including records a
later step filters out).

YAML is read the way weir reads it (YAML 1.2 core schema, see
config::to_value): only unquoted true/false are booleans, null/~/empty null,
numbers per the core-schema pattern, and every other scalar a string, so
`off` stays the string weir expects rather than YAML 1.1's false.
"""
import datetime
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TICK_HEADER = "weir_tick"
TICK_FILTER = f"$headers.{TICK_HEADER} == null"


# --- YAML as weir reads it -------------------------------------------------

class Int(int):
    """An integer scalar that remembers how it was written."""
    text = ""


class Float(float):
    """A float scalar that remembers how it was written."""
    text = ""


_NUMBER = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INTEGER = re.compile(r"^[-+]?[0-9]+$")
_NUMBER_TAG = "tag:weir,2024:number"


class Loader(yaml.SafeLoader):
    pass


class Dumper(yaml.SafeDumper):
    pass


for cls in (Loader, Dumper):
    # Replace YAML 1.1's resolvers (yes/no/on/off, 1_000, 1:30, dates...)
    # with weir's.
    cls.yaml_implicit_resolvers = {}
    cls.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"),
                              list("tf"))
    cls.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^(?:~|null|)$"),
                              ["~", "n", ""])
    cls.add_implicit_resolver(_NUMBER_TAG, _NUMBER, list("-+.0123456789"))


def _construct_number(loader, node):
    text = loader.construct_scalar(node)
    v = Int(int(text)) if _INTEGER.match(text) else Float(float(text))
    v.text = text
    return v


def _construct_bool(loader, node):
    return loader.construct_scalar(node) == "true"


Loader.add_constructor(_NUMBER_TAG, _construct_number)
Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def _represent_int(dumper, v):
    return dumper.represent_scalar(_NUMBER_TAG, v.text or str(int(v)))


def _represent_float(dumper, v):
    return dumper.represent_scalar(_NUMBER_TAG, v.text or repr(float(v)))


Dumper.add_representer(Int, _represent_int)
Dumper.add_representer(Float, _represent_float)
Dumper.add_representer(int, _represent_int)
Dumper.add_representer(float, _represent_float)
Dumper.add_representer(bool, lambda d, v: d.represent_scalar("tag:yaml.org,2002:bool",
                                                               "true" if v else "false"))


def load_yaml(text):
    return yaml.load(text, Loader=Loader)


def dump_yaml(data):
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=1000)


def scalar_text(v):
    """A scalar's text as written in the file (keys and header values are text)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (Int, Float)):
        return v.text
    return str(v)


def plain(v):
    """The value as ordinary Python/JSON data."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, float):
        return float(v)
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): plain(x) for k, x in v.items()}
    return v


# --- times, as core::parse_duration and the test spec read them ------------

_UNITS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}


def parse_duration(v):
    """core::parse_duration: `0`, or a non-negative integer and a unit."""
    text = scalar_text(v)
    if text == "0":
        return 0
    m = re.fullmatch(r"(-?[0-9]+)(.*)", text)
    if not m or int(m.group(1)) < 0 or m.group(2) not in _UNITS:
        raise ValueError(f"invalid duration {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2)]


def parse_time(v):
    """A point in time as the test spec reads it: integer epoch ms, a duration
    from the epoch (30m) or an ISO 8601 time (a naive one is UTC)."""
    if isinstance(v, Int):
        return int(v)
    text = scalar_text(v)
    try:
        return parse_duration(text)
    except ValueError:
        pass
    t = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return round(t.timestamp() * 1000)


# --- records ---------------------------------------------------------------

@dataclass
class Produce:
    partition: int
    key: bytes | None
    value: bytes | None
    timestamp: int | None  # None: the producer's clock
    headers: list  # [(name, bytes or None)]


@dataclass
class Expected:
    value: object
    key: object = None
    has_key: bool = False
    timestamp: int | None = None
    headers: list | None = None  # [(name, str or None)]

    def describe(self):
        d = {}
        if self.has_key:
            d["key"] = self.key
        if self.timestamp is not None:
            d["timestamp"] = self.timestamp
        if self.headers is not None:
            d["headers"] = dict(self.headers)
        d["value"] = self.value
        return json.dumps(d)


@dataclass
class Written:
    key: bytes | None
    value: bytes | None
    timestamp: int
    headers: list  # [(name, bytes or None)]
    partition: int = 0

    def json_value(self):
        try:
            return json.loads(self.value) if self.value is not None else None
        except ValueError:
            return self.value.decode(errors="replace")

    def describe(self):
        return json.dumps({
            "key": self.key.decode(errors="replace") if self.key is not None else None,
            "timestamp": self.timestamp,
            "headers": {k: (v.decode(errors="replace") if v is not None else None)
                        for k, v in self.headers},
            "value": self.json_value()})


def json_equal(a, b):
    """As runtime::json_equal: numbers by value, objects in any key order,
    booleans never equal to numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    return a == b


def matches(e, w):
    """As the test driver's comparison: the value always; key, timestamp and
    headers when the expectation gives them. A string key is compared with
    the key's bytes, null means no key, anything else with the key as JSON."""
    if w.value is None:
        return False
    try:
        value = json.loads(w.value)
    except ValueError:
        return False
    if not json_equal(e.value, value):
        return False
    if e.has_key:
        if e.key is None:
            if w.key is not None:
                return False
        elif w.key is None:
            return False
        elif isinstance(e.key, str):
            if e.key.encode() != w.key:
                return False
        else:
            try:
                if not json_equal(e.key, json.loads(w.key)):
                    return False
            except ValueError:
                return False
    if e.timestamp is not None and e.timestamp != w.timestamp:
        return False
    if e.headers is not None:
        got = [(k, v.decode() if v is not None else None) for k, v in w.headers]
        if got != e.headers:
            return False
    return True


# --- the pipeline and its cases ---------------------------------------------

@dataclass
class Case:
    file: Path
    index: int
    name: str
    pipeline: dict  # the pipeline without `tests:`
    spec: dict  # the case as written
    skip: str | None = None  # why it can't run against a broker
    records: list = field(default_factory=list)  # [Produce], in order
    partitions: int = 1
    expect: list = field(default_factory=list)  # [Expected]
    expect_late: list | None = None

    @property
    def id(self):
        slug = re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-")[:48].rstrip("-")
        return f"{self.file.stem}-{self.index}-{slug}"


def window_steps(pipeline):
    return [s["window"] for s in pipeline.get("steps") or []
            if isinstance(s, dict) and isinstance(s.get("window"), dict)]


def late_topics(pipeline):
    out = []
    for w in window_steps(pipeline):
        late = w.get("late")
        if isinstance(late, dict) and late.get("topic") and late["topic"] not in out:
            out.append(late["topic"])
    return out


def _headers(spec, encode):
    if spec is None:
        return []
    return [(str(k), None if v is None else encode(scalar_text(v))) for k, v in spec.items()]


def _expected(spec):
    e = Expected(value=plain(spec["value"]))
    if "key" in spec:
        e.has_key = True
        e.key = plain(spec["key"])
    if "timestamp" in spec:
        e.timestamp = parse_time(spec["timestamp"])
    if "headers" in spec:
        e.headers = _headers(spec["headers"], lambda s: s)
    return e


def _actions(spec):
    """The case's actions in order: ("input", [records]) or ("time", x) or
    ("watermark", T)."""
    kinds = {"input": "input", "advance_time": "time", "advance_watermark_to": "watermark"}
    if "steps" in spec:
        out = []
        for step in spec["steps"]:
            (kind, arg), = step.items()
            out.append((kinds[kind], arg))
        return out
    out = [("input", spec.get("input") or [])]
    if "advance_time" in spec:
        out.append(("time", spec["advance_time"]))
    if "advance_watermark_to" in spec:
        out.append(("watermark", spec["advance_watermark_to"]))
    return out


def _tick_value(event_time, at):
    """The value of a tick record whose event time is `at`, or None when the
    source's event time is the Kafka timestamp."""
    path = event_time.get("field") if isinstance(event_time, dict) else None
    if not path:
        return None
    fmt = event_time.get("format", "epoch_ms")
    if fmt == "epoch_ms":
        t = at
    elif fmt == "epoch_s":
        t = at // 1000 if at % 1000 == 0 else at / 1000
    else:
        t = (datetime.datetime.fromtimestamp(at / 1000, datetime.timezone.utc)
             .isoformat(timespec="milliseconds").replace("+00:00", "Z"))
    value = t
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


def _plan(case):
    """Fills case.records, partitions and expectations, or case.skip."""
    p, spec = case.pipeline, case.spec
    source = p.get("source") or {}
    if "topic" not in source:
        return "the source reads several topics"
    if "sinks" in p:
        return "routed sinks are checked against the broker by test_routing.py"
    if any(isinstance(w.get("emit"), dict) for w in window_steps(p)):
        return "emit {changes: T} publishes on the wall clock"
    if "tables" in spec or p.get("tables"):
        return "tables are fed by `weir test` only"
    if (p.get("errors") or {}).get("dead_letter_topic"):
        # The tick filter renumbers the steps named in weir.error.step; dead
        # letters through `weir run` are checked by test_windows.py.
        return "dead-letter cases name steps by position"
    actions = _actions(spec)
    if any(kind == "time" for kind, _ in actions):
        return "advance_time moves the virtual wall clock"
    event_time = source.get("event_time")
    by_field = isinstance(event_time, dict) and bool(event_time.get("field"))
    ooo = parse_duration((source.get("watermark") or {}).get("max_out_of_orderness", "0"))

    used = []  # partitions fed so far, in first-use order
    timeless = False
    for kind, arg in actions:
        if kind == "input":
            for r in arg:
                partition = int(r.get("partition", 0))
                if partition not in used:
                    used.append(partition)
                key = None if r.get("key") is None else (
                    scalar_text(r["key"]) if not isinstance(r["key"], (list, dict))
                    else json.dumps(plain(r["key"]), separators=(",", ":")))
                if "value" not in r:
                    value = None
                elif r.get("raw"):
                    value = b"" if r["value"] is None else scalar_text(r["value"]).encode()
                else:
                    value = json.dumps(plain(r["value"]), separators=(",", ":")).encode()
                ts = parse_time(r["timestamp"]) if "timestamp" in r else None
                if ts is not None and ts <= 0:
                    # A producer sends 0 as "now" and can't send negative times.
                    return f"input timestamp {ts} can't be produced"
                timeless = timeless or ts is None
                case.records.append(Produce(partition, None if key is None else key.encode(),
                                            value, ts, _headers(r.get("headers"),
                                                                lambda s: s.encode())))
        else:
            at = parse_time(arg) + ooo
            tick = _tick_value(event_time, at)
            if tick is None and at <= 0:
                return f"a tick at Kafka timestamp {at} can't be produced"
            # `weir test` raises the watermark of every partition it has fed
            # (partition 0 when none yet).
            for partition in used or [0]:
                case.records.append(Produce(
                    partition, None,
                    json.dumps(tick if tick is not None else {}).encode(),
                    None if tick is not None else at, [(TICK_HEADER, b"1")]))
            if not used:
                used.append(0)
    case.partitions = max([r.partition for r in case.records] + [0]) + 1
    case.expect = [_expected(e) for e in spec.get("expect") or []]
    if "expect_late" in spec:
        case.expect_late = [_expected(e) for e in spec["expect_late"] or []]
    if timeless:
        # `weir test` gives records without a timestamp Kafka timestamp 0; a
        # producer gives them its clock.
        if not by_field:
            return "event time is the Kafka timestamp of records that give none"
        # A late record is its input unchanged: its timestamp is only known
        # when that input gives one.
        for e in case.expect_late or []:
            if e.timestamp is not None and any(
                    r.timestamp is None and r.value is not None and
                    json_equal(e.value, _json_or_none(r.value)) for r in case.records):
                return "expect_late compares the timestamp of a record that gives none"
    return None


def _json_or_none(b):
    try:
        return json.loads(b)
    except ValueError:
        return None


def load_cases(path):
    doc = load_yaml(Path(path).read_text())
    tests = doc.pop("tests", None) or []
    cases = []
    for i, spec in enumerate(tests):
        c = Case(file=Path(path), index=i, name=spec["name"], pipeline=doc, spec=spec)
        c.skip = _plan(c)
        cases.append(c)
    return cases


def rewrite(pipeline, name, topics):
    """The pipeline with its name, its topics renamed through `topics`
    (old -> new) and the tick filter as its first step."""
    p = load_yaml(dump_yaml(pipeline))  # a deep copy that keeps how numbers were written
    p["pipeline"] = name
    p["source"]["topic"] = topics[p["source"]["topic"]]
    p["sink"]["topic"] = topics[p["sink"]["topic"]]
    for w in window_steps(p):
        if isinstance(w.get("late"), dict) and w["late"].get("topic"):
            w["late"]["topic"] = topics[w["late"]["topic"]]
    p["steps"] = [{"filter": TICK_FILTER}] + list(p.get("steps") or [])
    return dump_yaml(p)


# --- comparing ---------------------------------------------------------------

def _group_key(value, fields):
    if isinstance(value, dict) and fields:
        return json.dumps([value.get(f) for f in fields], sort_keys=True)
    return None


def compare(expected, written, partitions, group_fields):
    """Problems (strings) comparing expected and written records. With one
    source partition, in order; with several, in order within each group
    (`group_fields` of the value), since records of one partition keep their
    order but the interleaving of partitions is not defined."""
    if partitions > 1:
        groups = {}
        for e in expected:
            groups.setdefault(_group_key(e.value, group_fields), ([], []))[0].append(e)
        for w in written:
            groups.setdefault(_group_key(w.json_value(), group_fields), ([], []))[1].append(w)
    else:
        groups = {None: (expected, written)}
    problems = []
    for g, (exp, got) in groups.items():
        if len(exp) == len(got) and all(matches(e, w) for e, w in zip(exp, got)):
            continue
        lines = [f"group {g}:" if g is not None else "",
                 f"expected {len(exp)} record(s):"] + ["  " + e.describe() for e in exp]
        lines += [f"written {len(got)} record(s):"] + ["  " + w.describe() for w in got]
        lines += [f"  first difference at #{i}" for i, (e, w) in enumerate(zip(exp, got))
                  if not matches(e, w)][:1]
        problems.append("\n".join(x for x in lines if x))
    return problems
