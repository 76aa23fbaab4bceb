#include <catch2/catch.hpp>

#include <cstdlib>

#include "weir/config/pipeline.h"

using namespace weir::config;

namespace {
std::vector<std::string> problems(const std::string& text) {
  diagnostics d("p.yaml");
  (void)load_pipeline_text(text, d);
  std::vector<std::string> out;
  for (const auto& x : d.list()) out.push_back(x.format());
  return out;
}
}  // namespace

TEST_CASE("a complete pipeline loads without problems") {
  diagnostics d("p.yaml");
  auto spec = load_pipeline_text(R"(pipeline: clicks
description: counts
source:
  topic: events
  partitioned_by: user
  event_time: {field: ts, format: epoch_s}
  watermark: {max_out_of_orderness: 5s}
steps:
  - filter: amount > 0
  - id: per-user
    window:
      group_by: [user]
      tumbling: 1m
      aggregate: {n: count()}
sink: {topic: out, key: user}
processing: {commit_interval: 500ms}
)",
                                 d);
  REQUIRE(d.ok());
  REQUIRE(spec);
  CHECK(spec->name == "clicks");
  CHECK(spec->source.topics == std::vector<std::string>{"events"});
  CHECK(spec->source.partitioned_by == std::vector<std::string>{"user"});
  REQUIRE(spec->source.event_time);
  CHECK(spec->source.event_time->field == "ts");
  CHECK(spec->source.event_time->format == time_format::epoch_s);
  CHECK(spec->source.max_out_of_orderness == 5000);
  REQUIRE(spec->steps.size() == 2);
  CHECK(spec->steps[0].kind == "filter");
  CHECK(spec->steps[0].name == "filter-1");
  CHECK(spec->steps[0].body->scalar == "amount > 0");
  CHECK(spec->steps[0].body->mark_at(7).line == 9);
  CHECK(spec->steps[0].body->mark_at(7).column == 20);
  CHECK(spec->steps[1].name == "per-user");
  CHECK(spec->sinks.at(0).topic == "out");
  CHECK(spec->processing.commit_interval == 500);
}

TEST_CASE("unknown keys are errors with their position and the known keys") {
  auto p =
      problems("pipeline: x\nsource: {topic: a, partition_by: b}\nsink: {topic: o}\nextra: 1\n");
  REQUIRE(p.size() == 2);
  CHECK(p[0] ==
        "p.yaml:2:20: unknown key 'partition_by' in source (expected one of: topic, topics, "
        "format, partitioned_by, event_time, watermark)");
  CHECK(p[1].rfind("p.yaml:4:1: unknown key 'extra' in a pipeline file", 0) == 0);
}

TEST_CASE("every problem is reported, not only the first") {
  auto p = problems(R"(pipeline: "bad name"
source:
  topic: a
  event_time: {field: ts, format: epoch_us}
  watermark: {max_out_of_orderness: 5 seconds}
sink: {}
processing: {commit_interval: 1x}
)");
  REQUIRE(p.size() == 5);
  CHECK(p[0] ==
        "p.yaml:1:11: pipeline name 'bad name' may only hold letters, digits, '-', '_' and '.'");
  CHECK(p[1] ==
        "p.yaml:4:35: event_time.format must be epoch_ms, epoch_s or iso8601, found 'epoch_us'");
  CHECK(p[2] ==
        "p.yaml:5:37: watermark.max_out_of_orderness: invalid duration '5 seconds': unknown unit ' "
        "seconds'");
  CHECK(p[3] == "p.yaml:6:7: sink needs 'topic'");
  CHECK(p[4] == "p.yaml:7:31: processing.commit_interval: invalid duration '1x': unknown unit 'x'");
}

TEST_CASE("YAML syntax errors carry line and column") {
  auto p = problems("pipeline: x\nsource: [a\n");
  REQUIRE(p.size() == 1);
  CHECK(p[0].rfind("p.yaml:3:1: ", 0) == 0);
}

TEST_CASE("duplicate keys and duplicate step ids are errors") {
  auto p = problems(R"(pipeline: x
pipeline: y
source: {topic: a}
steps:
  - {id: s, filter: a}
  - {id: s, filter: b}
sink: {topic: o}
)");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "p.yaml:2:1: duplicate key 'pipeline'");
  CHECK(p[1] == "p.yaml:6:5: duplicate step id 's'");
}

TEST_CASE("environment variables are interpolated") {
  setenv("WEIR_TEST_TOPIC", "payments", 1);
  unsetenv("WEIR_TEST_UNSET");
  diagnostics d("p.yaml");
  auto spec = load_pipeline_text(
      "pipeline: x\nsource: {topic: '${WEIR_TEST_TOPIC}'}\nsink: {topic: "
      "'${WEIR_TEST_UNSET:-alerts}'}\n",
      d);
  REQUIRE(d.ok());
  CHECK(spec->source.topics[0] == "payments");
  CHECK(spec->sinks.at(0).topic == "alerts");

  auto p = problems(
      "pipeline: x\nsource: {topic: '${WEIR_TEST_UNSET}'}\nsink: {topic: '${WEIR_TEST_UNSET:?set "
      "the sink}'}\n");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "p.yaml:2:17: ${WEIR_TEST_UNSET}: environment variable WEIR_TEST_UNSET is not set");
  CHECK(p[1] == "p.yaml:3:15: ${WEIR_TEST_UNSET:?set the sink}: set the sink");
}

TEST_CASE("idle_timeout defaults to 30s and can be turned off") {
  diagnostics d("p.yaml");
  auto on = load_pipeline_text("pipeline: x\nsource: {topic: a}\nsink: {topic: o}\n", d);
  CHECK(on->source.idle_timeout == 30000);
  auto off = load_pipeline_text(
      "pipeline: x\nsource: {topic: a, watermark: {idle_timeout: off}}\nsink: {topic: o}\n", d);
  CHECK(off->source.idle_timeout == 0);
  CHECK(d.ok());
}

TEST_CASE("features of later releases are rejected with a clear reason") {
  auto p = problems(
      "pipeline: x\nsource: {topic: a, watermark: {idle_timeout: 0s}}\nsink: {topic: o}\n"
      "processing: {guarantee: exactly_twice}\n");
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "p.yaml:2:46: watermark.idle_timeout must be positive, or off");
  CHECK(p[1] ==
        "p.yaml:4:25: processing.guarantee must be at_least_once or exactly_once, found "
        "'exactly_twice'");
}

TEST_CASE("tables from topics and files load with their keys and formats") {
  diagnostics d("dir/p.yaml");
  auto spec = load_pipeline_text(R"(pipeline: x
source: {topic: a}
tables:
  merchants: {topic: merchants}
  devices: {topic: devices, format: json, key: device.id}
  fx: {file: data/fx.csv, key: currency}
  users: {file: /srv/users.jsonl, key: id}
  plain: {file: ref.txt, format: jsonl, key: id}
sink: {topic: o}
)",
                                 d);
  REQUIRE(d.ok());
  REQUIRE(spec->tables.size() == 5);
  const auto& t = spec->tables;
  CHECK(t[0].name == "merchants");
  CHECK(t[0].source == table_source::topic);
  CHECK(t[0].topic == "merchants");
  CHECK(!t[0].key);
  CHECK(t[0].at.line == 4);
  CHECK(*t[1].key == "device.id");
  CHECK(t[2].source == table_source::file);
  CHECK(t[2].path == "dir/data/fx.csv");
  CHECK(t[2].file_format == table_file_format::csv);
  CHECK(*t[2].key == "currency");
  CHECK(t[3].path == "/srv/users.jsonl");
  CHECK(t[3].file_format == table_file_format::jsonl);
  CHECK(t[4].file_format == table_file_format::jsonl);
  CHECK(spec->find_table("fx") == &t[2]);
  CHECK(spec->find_table("nope") == nullptr);
}

TEST_CASE("table problems name their line and column") {
  auto p = problems(R"(pipeline: x
source: {topic: a}
tables:
  a: {topic: t, file: f.csv}
  b: {}
  c: {file: f.csv}
  d: {file: f.xml, key: k}
  e: {topic: t, format: avro, colour: red}
  f: {file: f.csv, key: k, format: xls}
  g h: {topic: t}
  i: [t]
sink: {topic: o}
)");
  std::vector<std::string> want = {
      "p.yaml:4:23: table 'a' takes either 'topic' or 'file', not both",
      "p.yaml:5:6: table 'b' needs 'topic' (a compacted topic) or 'file' (CSV or JSON Lines)",
      "p.yaml:6:6: table 'c' needs 'key': the column (or field) that keys its rows",
      "p.yaml:7:13: table 'd': file must end in .csv or .jsonl, or give format: csv or jsonl",
      "p.yaml:8:31: unknown key 'colour' in table 'e' (expected one of: topic, file, key, format)",
      "p.yaml:8:25: table 'e': format 'avro' is not supported for a topic (supported: json)",
      "p.yaml:9:36: table 'f': format must be csv or jsonl, found 'xls'",
      "p.yaml:10:3: table name 'g h' may only hold letters, digits, '-', '_' and '.'",
      "p.yaml:11:6: table 'i' must be a map, found a list",
  };
  CHECK(p == want);
}

TEST_CASE("sinks route records in order; only the last may omit when") {
  diagnostics d("p.yaml");
  auto spec = load_pipeline_text(R"(pipeline: x
source: {topic: a}
sinks:
  - {topic: errors, key: service, when: level == "error"}
  - {topic: rest}
)",
                                 d);
  REQUIRE(d.ok());
  CHECK(spec->routed);
  REQUIRE(spec->sinks.size() == 2);
  CHECK(spec->sinks[0].topic == "errors");
  CHECK(spec->sinks[0].key->scalar == "service");
  CHECK(spec->sinks[0].when->scalar == "level == \"error\"");
  CHECK(spec->sinks[0].at.line == 4);
  CHECK(spec->sinks[1].topic == "rest");
  CHECK(spec->sinks[1].when == nullptr);
  CHECK(!spec->may_drop_unrouted());
  CHECK(spec->sink_topics() == std::vector<std::string>{"errors", "rest"});

  diagnostics d2("p.yaml");
  auto single = load_pipeline_text("pipeline: x\nsource: {topic: a}\nsink: {topic: o}\n", d2);
  REQUIRE(d2.ok());
  CHECK(!single->routed);
  CHECK(!single->may_drop_unrouted());

  diagnostics d3("p.yaml");
  auto dropping = load_pipeline_text(
      "pipeline: x\nsource: {topic: a}\nsinks:\n  - {topic: o, when: n > 1}\n"
      "  - {topic: o, key: k, when: n < 0}\n",
      d3);
  REQUIRE(d3.ok());
  CHECK(dropping->may_drop_unrouted());
  CHECK(dropping->sink_topics() == std::vector<std::string>{"o"});
}

TEST_CASE("sink and sinks problems name their line and column") {
  auto p = problems(R"(pipeline: x
source: {topic: a}
sinks:
  - {topic: all}
  - topic: errors
    when: level == "error"
  - {when: 'true'}
  - [o]
  - {topic: x, when: ''}
)");
  std::vector<std::string> want = {
      "p.yaml:4:5: sinks[1] has no 'when', so it takes every record and the sinks after it would "
      "never get one; only the last sink may omit 'when'",
      "p.yaml:7:5: sinks[3] needs 'topic'",
      "p.yaml:8:5: sinks[4] must be a map, found a list",
      "p.yaml:9:22: sinks[5].when must be a non-empty string, found an empty string",
  };
  CHECK(p == want);

  CHECK(problems("pipeline: x\nsource: {topic: a}\nsink: {topic: o}\nsinks: [{topic: p}]\n") ==
        std::vector<std::string>{"p.yaml:4:8: a pipeline takes either 'sink' (one output) or "
                                 "'sinks' (records routed by 'when'), not both"});
  CHECK(problems("pipeline: x\nsource: {topic: a}\nsinks: []\n") ==
        std::vector<std::string>{
            "p.yaml:3:8: sinks must be a non-empty list of {topic, key, when}, found an empty "
            "list"});
  CHECK(problems("pipeline: x\nsource: {topic: a}\n") ==
        std::vector<std::string>{"p.yaml:1:1: a pipeline file needs 'sink' (or 'sinks')"});
  CHECK(problems("pipeline: x\nsource: {topic: a}\nsink: {topic: o, when: n > 1}\n") ==
        std::vector<std::string>{
            "p.yaml:3:24: sink.when: a condition routes records between several sinks; write "
            "'sinks:' as a list of {topic, key, when}, or filter records with a 'filter' step"});
}
