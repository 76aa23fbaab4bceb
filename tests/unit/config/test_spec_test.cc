#include <catch2/catch.hpp>

#include "weir/config/test_spec.h"
#include "weir/core/json.h"

using namespace weir;
using namespace weir::config;

namespace {

const std::string pipeline_head = R"(pipeline: p
source: {topic: in}
steps:
  - id: w
    window: {group_by: [user], tumbling: 1m, aggregate: {n: count()}, late: {topic: too-late}}
sink: {topic: out}
)";

// The pipeline above with `tests_yaml` as its tests section (line 7 on).
struct parsed {
  explicit parsed(const std::string& tests_yaml, const std::string& head = pipeline_head)
      : diag("p.yaml") {
    spec = load_pipeline_text(head + tests_yaml, diag);
    REQUIRE(spec);
    REQUIRE(diag.ok());
    cases = parse_tests(*spec, diag);
  }
  std::vector<std::string> problems() const {
    std::vector<std::string> out;
    for (const auto& d : diag.list()) out.push_back(d.format());
    return out;
  }
  diagnostics diag;
  std::optional<pipeline_spec> spec;
  std::vector<test_case> cases;
};

std::string json_of(const std::string& yaml_value) {
  diagnostics d("v.yaml");
  auto root = parse_yaml("v: " + yaml_value, d);
  REQUIRE(root);
  REQUIRE(d.ok());
  return core::to_json(to_value(*root->get("v")));
}

}  // namespace

TEST_CASE("YAML values convert to JSON with numbers and booleans and null only when unquoted") {
  CHECK(json_of("5") == "5");
  CHECK(json_of("-0.5") == "-0.5");
  CHECK(json_of("1e3") == "1000");
  CHECK(json_of("+3") == "3");
  CHECK(json_of(".5") == "0.5");
  CHECK(json_of("'5'") == R"("5")");
  CHECK(json_of("\"5\"") == R"("5")");
  CHECK(json_of("0x10") == R"("0x10")");
  CHECK(json_of("1_000") == R"("1_000")");
  CHECK(json_of("1.2.3") == R"("1.2.3")");
  CHECK(json_of("true") == "true");
  CHECK(json_of("false") == "false");
  CHECK(json_of("'true'") == R"("true")");
  CHECK(json_of("yes") == R"("yes")");
  CHECK(json_of("null") == "null");
  CHECK(json_of("~") == "null");
  CHECK(json_of("") == "null");
  CHECK(json_of("'null'") == R"("null")");
  CHECK(json_of("c1") == R"("c1")");
  CHECK(json_of("2024-05-01T12:00:00Z") == R"("2024-05-01T12:00:00Z")");
  CHECK(json_of("{b: 1, a: [x, 2, {c: null}]}") == R"({"b":1,"a":["x",2,{"c":null}]})");
  CHECK(json_of("[]") == "[]");
  CHECK(json_of("{}") == "{}");
}

TEST_CASE("the short form runs input then advance_time then advance_watermark_to") {
  parsed p(R"(tests:
  - name: one
    input:
      - {key: c1, value: {ts: 0, amount: 9}}
      - {value: '{"bad json', raw: true, timestamp: 1000, partition: 1, headers: {h: v, n: null}}
      - {key: [a, 1], value: {ts: 5}, timestamp: 2024-05-01T00:00:00Z}
      - {}
    advance_time: 40s
    advance_watermark_to: 30m
    expect:
      - {value: {user: c1, n: 5}}
      - {key: 7, value: {}, timestamp: 59999, headers: {}}
  - name: two
    advance_watermark_to: 1500
    expect: []
)");
  REQUIRE(p.problems().empty());
  REQUIRE(p.cases.size() == 2);
  const auto& c = p.cases[0];
  CHECK(c.name == "one");
  CHECK(c.at.line == 8);
  REQUIRE(c.actions.size() == 3);
  const auto& feed = std::get<feed_records>(c.actions[0].what);
  REQUIRE(feed.records.size() == 4);
  CHECK(feed.records[0].key == "c1");
  CHECK(feed.records[0].value == R"({"ts":0,"amount":9})");
  CHECK(feed.records[0].timestamp == 0);
  CHECK(feed.records[0].partition == 0);
  CHECK(feed.records[0].at.line == 10);
  CHECK(!feed.records[1].key);
  CHECK(feed.records[1].value == "{\"bad json");
  CHECK(feed.records[1].timestamp == 1000);
  CHECK(feed.records[1].partition == 1);
  REQUIRE(feed.records[1].headers.size() == 2);
  CHECK(feed.records[1].headers[0].key == "h");
  CHECK(feed.records[1].headers[0].value == "v");
  CHECK(!feed.records[1].headers[1].value);
  CHECK(feed.records[2].key == R"(["a",1])");
  CHECK(feed.records[2].timestamp == 1714521600000);
  CHECK(!feed.records[3].value);  // no value: a tombstone
  CHECK(std::get<advance_time>(c.actions[1].what).by == 40'000);
  CHECK(std::get<advance_watermark_to>(c.actions[2].what).to == 1'800'000);
  REQUIRE(c.expect.size() == 2);
  CHECK(core::to_json(c.expect[0].value) == R"({"user":"c1","n":5})");
  CHECK(!c.expect[0].key);
  CHECK(!c.expect[0].timestamp);
  CHECK(!c.expect[0].headers);
  REQUIRE(c.expect[1].key);
  CHECK(core::to_json(*c.expect[1].key) == "7");
  CHECK(c.expect[1].timestamp == 59999);
  REQUIRE(c.expect[1].headers);
  CHECK(c.expect[1].headers->empty());
  CHECK(!c.expect_late);
  REQUIRE(p.cases[1].actions.size() == 1);
  CHECK(std::get<advance_watermark_to>(p.cases[1].actions[0].what).to == 1500);
}

TEST_CASE("the sequenced form keeps its steps in order") {
  parsed p(R"(tests:
  - name: interleaved
    steps:
      - input: [{value: {ts: 0}}]
      - advance_watermark_to: 1m
      - advance_time: 5s
      - input: [{value: {ts: 1}}, {value: {ts: 2}}]
    expect: []
    expect_late: [{value: {ts: 1}}]
)");
  REQUIRE(p.problems().empty());
  REQUIRE(p.cases.size() == 1);
  const auto& a = p.cases[0].actions;
  REQUIRE(a.size() == 4);
  CHECK(std::get<feed_records>(a[0].what).records.size() == 1);
  CHECK(std::get<advance_watermark_to>(a[1].what).to == 60'000);
  CHECK(std::get<advance_time>(a[2].what).by == 5'000);
  CHECK(std::get<feed_records>(a[3].what).records.size() == 2);
  CHECK(a[3].at.line == 13);
  REQUIRE(p.cases[0].expect_late);
  CHECK(p.cases[0].expect_late->size() == 1);
}

TEST_CASE("test spec problems name their line and column") {
  parsed p(R"(tests:
  - name: a
    inputs: []
    expect: []
  - name: a
    tables: {merchants: []}
    input: [{value: {}, partition: -1, timestamp: soon, colour: red}]
    advance_watermark_to: 5 minutes
    expect: [{key: k}]
  - input: [{value: [1], raw: true}]
    steps: []
    expect: {}
  - name: c
    steps:
      - {input: [], advance_time: 1s}
      - {}
      - {wait: 1s}
      - advance_time: -1s
    expect: []
  - just a string
)");
  auto problems = p.problems();
  std::vector<std::string> want = {
      "p.yaml:9:5: unknown key 'inputs' in a test (expected one of: name, input, advance_time, "
      "advance_watermark_to, steps, tables, expect, expect_late, expect_dead_letter)",
      "p.yaml:12:14: unknown table 'merchants' (no tables are declared in 'tables:')",
      "p.yaml:13:51: timestamp must be epoch milliseconds, a duration from the epoch such as 30m, "
      "or an ISO 8601 time",
      "p.yaml:13:36: partition must be between 0 and 1000000",
      "p.yaml:13:57: unknown key 'colour' in an input record (expected one of: key, value, raw, "
      "timestamp, partition, headers)",
      "p.yaml:14:27: advance_watermark_to must be epoch milliseconds, a duration from the epoch "
      "such as 30m, or an ISO 8601 time",
      "p.yaml:15:14: an expected record needs 'value'",
      "p.yaml:11:11: duplicate test name 'a' (first at line 8)",
      "p.yaml:16:5: a test needs 'name'",
      "p.yaml:17:12: a test takes either 'steps' or 'input', 'advance_time' and "
      "'advance_watermark_to', not both",
      "p.yaml:18:13: expect must be a list, found a map",
      "p.yaml:21:9: a test step takes exactly one of input, advance_time, advance_watermark_to, "
      "tables",
      "p.yaml:22:9: a test step takes exactly one of input, advance_time, advance_watermark_to, "
      "tables",
      "p.yaml:23:10: unknown key 'wait' in a test step (expected one of: input, advance_time, "
      "advance_watermark_to, tables)",
      "p.yaml:24:23: advance_time: invalid duration '-1s'",
      "p.yaml:26:5: a test must be a map, found a scalar",
  };
  REQUIRE(problems.size() == want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    INFO(i);
    CHECK(problems[i].rfind(want[i], 0) == 0);
  }
}

TEST_CASE("raw values must be strings") {
  parsed p(R"(tests:
  - name: raw
    input: [{value: [1], raw: true}, {raw: true}, {value: x, raw: yes}]
    expect: []
)");
  auto problems = p.problems();
  REQUIRE(problems.size() == 3);
  CHECK(problems[0] == "p.yaml:9:21: with raw: true, value must be a string, found a list");
  CHECK(problems[1] == "p.yaml:9:44: raw: true needs a 'value' holding the record's bytes");
  CHECK(problems[2] == "p.yaml:9:67: raw must be true or false");
}

TEST_CASE("expect_late needs a step that writes late records to a topic") {
  const std::string head = R"(pipeline: p
source: {topic: in}
steps:
  - filter: x > 1
sink: {topic: out}

)";
  parsed p("tests: [{name: t, expect: [], expect_late: []}]\n", head);
  auto problems = p.problems();
  REQUIRE(problems.size() == 1);
  CHECK(problems[0] ==
        "p.yaml:7:44: expect_late needs a step that writes late records to a topic "
        "(late: {topic: ...})");
}

TEST_CASE("late topics come from the steps' late: {topic: ...}") {
  parsed p("");
  CHECK(late_topics(*p.spec) == std::vector<std::string>{"too-late"});
}

TEST_CASE("a file without tests or with an empty tests section has no cases") {
  CHECK(parsed("").cases.empty());
  CHECK(parsed("tests:\n").cases.empty());
  CHECK(parsed("tests: []\n").cases.empty());
  parsed wrong("tests: {name: x}\n");
  REQUIRE(wrong.problems().size() == 1);
  CHECK(wrong.problems()[0] == "p.yaml:7:8: tests must be a list, found a map");
}

TEST_CASE("test cases fill declared tables, before the input or as a step") {
  parsed p(R"(tests:
  - name: t
    tables: {fx: [{key: USD, value: {rate: 0.9}}, {key: 42, value: {rate: 1}}]}
    steps:
      - input: [{value: {a: 1}}]
      - tables: {fx: [{key: USD, value: null}]}
    expect: []
  - name: bad
    tables: {fx: [{key: [1], value: {}}, {key: a, value: 5}, {key: b}], other: []}
    expect: []
)",
           std::string("pipeline: p\nsource: {topic: in}\ntables: {fx: {file: fx.csv, key: c}}\n"
                       "sink: {topic: out}\n"));
  auto problems = p.problems();
  std::vector<std::string> want = {
      "p.yaml:13:25: a table row's key must be a non-empty scalar",
      "p.yaml:13:58: a table row's value must be a map, or null to remove the row, found a "
      "scalar",
      "p.yaml:13:62: a table row needs 'value'",
      "p.yaml:13:73: unknown table 'other' (declared: fx)",
  };
  CHECK(problems == want);
  REQUIRE(p.cases.size() == 2);
  const auto& a = p.cases[0].actions;
  REQUIRE(a.size() == 3);
  const auto& first = std::get<set_table_rows>(a[0].what);
  REQUIRE(first.tables.size() == 1);
  CHECK(first.tables[0].first == "fx");
  REQUIRE(first.tables[0].second.size() == 2);
  CHECK(first.tables[0].second[0].key == "USD");
  CHECK(core::to_json(*first.tables[0].second[0].value) == R"({"rate":0.9})");
  CHECK(first.tables[0].second[1].key == "42");
  CHECK(std::holds_alternative<feed_records>(a[1].what));
  const auto& removal = std::get<set_table_rows>(a[2].what);
  CHECK(!removal.tables[0].second[0].value);
}

TEST_CASE("expected records name their sink topic when the pipeline has several") {
  const std::string head = R"(pipeline: p
source: {topic: in}
sinks:
  - {topic: big, when: n > 10}
  - {topic: small}
)";
  parsed p(R"(tests:
  - name: t
    input: [{value: {n: 1}}]
    expect:
      - {topic: small, value: {n: 1}}
      - {value: {n: 2}}
      - {topic: other, value: {n: 3}}
    expect_dead_letter: []
  - name: late lists take no topic
    expect: []
    expect_late: [{topic: big, value: {}}]
)",
           head);
  std::vector<std::string> want = {
      "p.yaml:11:9: the pipeline writes to several sink topics (big, small): say which one this "
      "record goes to with 'topic:'",
      "p.yaml:12:17: topic 'other' is not a sink topic (sinks: big, small)",
      "p.yaml:13:25: expect_dead_letter needs errors.dead_letter_topic",
      "p.yaml:16:20: unknown key 'topic' in an expected record (expected one of: value, key, "
      "timestamp, headers, raw)",
      "p.yaml:16:18: expect_late needs a step that writes late records to a topic (late: "
      "{topic: ...})",
  };
  CHECK(p.problems() == want);
  REQUIRE(p.cases.size() == 2);
  REQUIRE(p.cases[0].expect.size() == 1);
  CHECK(p.cases[0].expect[0].topic == "small");

  // With one sink topic, `topic` may be left out and defaults to it.
  parsed one("tests: [{name: t, expect: [{value: {}}, {topic: out, value: {}}]}]\n");
  CHECK(one.problems().empty());
  REQUIRE(one.cases.at(0).expect.size() == 2);
  CHECK(one.cases[0].expect[0].topic == "out");
  CHECK(one.cases[0].expect[1].topic == "out");
}
