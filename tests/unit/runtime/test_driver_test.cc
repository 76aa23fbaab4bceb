#include <catch2/catch.hpp>

#include "weir/config/test_spec.h"
#include "weir/runtime/test_driver.h"

using namespace weir;

namespace {

// A filter and a one-minute tumbling count per user, event time from `ts`.
const std::string counts_pipeline = R"(pipeline: counts
source:
  topic: events
  partitioned_by: user
  event_time: {field: ts}
  watermark: {max_out_of_orderness: 0s, idle_timeout: off}
steps:
  - filter: kind == "view"
  - id: per-user
    window:
      group_by: [user]
      tumbling: 1m
      aggregate: {n: count()}
sink: {topic: counts}
)";

// A pipeline file's topology and its parsed tests, as `weir test` builds them.
struct loaded {
  explicit loaded(const std::string& tests_yaml, const std::string& pipeline = counts_pipeline)
      : diag("t.yaml") {
    auto spec = config::load_pipeline_text(pipeline + tests_yaml, diag);
    REQUIRE(spec);
    REQUIRE(diag.ok());
    topology = runtime::build_topology(std::move(*spec), std::nullopt, registry, diag);
    INFO(problems());
    REQUIRE(topology);
    cases = config::parse_tests(topology->spec, diag);
    INFO(problems());
    REQUIRE(diag.ok());
  }
  std::string problems() const {
    std::string out;
    for (const auto& d : diag.list()) out += d.format() + "\n";
    return out;
  }
  runtime::case_result run(std::size_t i) {
    runtime::test_driver driver(*topology);
    return driver.run(cases.at(i));
  }

  metrics::registry registry;
  config::diagnostics diag;
  std::unique_ptr<runtime::topology> topology;
  std::vector<config::test_case> cases;
};

}  // namespace

TEST_CASE("JSON equality compares numbers by value and objects by key") {
  auto obj = [](std::initializer_list<core::value::member> m) {
    return core::value{core::value::object_type(m)};
  };
  CHECK(runtime::json_equal(core::value{5}, core::value{5.0}));
  CHECK(!runtime::json_equal(core::value{5}, core::value{"5"}));
  CHECK(runtime::json_equal(obj({{"a", 1}, {"b", 2}}), obj({{"b", 2}, {"a", 1}})));
  CHECK(!runtime::json_equal(obj({{"a", 1}}), obj({{"a", 1}, {"b", 2}})));
  CHECK(!runtime::json_equal(core::value{core::value::array_type{1, 2}},
                             core::value{core::value::array_type{2, 1}}));
  CHECK(runtime::json_equal(core::value{}, core::value{nullptr}));
}

TEST_CASE("records and an explicit watermark close tumbling windows as expected") {
  loaded l(R"(tests:
  - name: two windows
    input:
      - {key: u1, value: {ts: 0, user: u1, kind: view}}
      - {key: u2, value: {ts: 1000, user: u2, kind: view}}
      - {key: u1, value: {ts: 10000, user: u1, kind: click}}
      - {key: u1, value: {ts: 59999, user: u1, kind: view}}
      - {key: u1, value: {ts: 61000, user: u1, kind: view}}
    advance_watermark_to: 2m
    expect:
      - {key: u1, timestamp: 59999, value: {user: u1, window_start: 0, window_end: 60000, n: 2.0}}
      - {value: {window_end: 60000, window_start: 0, user: u2, n: 1}}
      - {value: {user: u1, window_start: 60000, window_end: 120000, n: 1}}
)");
  auto r = l.run(0);
  INFO(r.report);
  CHECK(r.passed);
  CHECK(r.report.empty());
  CHECK(r.written.size() == 3);
  CHECK(r.errors.empty());
}

TEST_CASE("a wrong expectation fails with a diff of expected and written records") {
  loaded l(R"(tests:
  - name: wrong
    input:
      - {key: u1, value: {ts: 0, user: u1, kind: view}}
      - {key: u1, value: {ts: 1, user: u1, kind: view}}
      - {key: u2, value: {ts: 2, user: u2, kind: view}}
      - {key: u3, value: {ts: 3, user: u3, kind: view}}
      - {value: '{"ts": 4, "user": ', raw: true}
    advance_watermark_to: 1m
    expect:
      - {key: u1, value: {user: u1, window_start: 0, window_end: 60000, n: 3}}
      - {value: {user: u2, window_start: 0, window_end: 60000, n: 1}}
      - {key: u4, timestamp: 59999, value: {user: u4, window_start: 0, window_end: 60000, n: 1}}
      - {value: {user: u5, window_start: 0, window_end: 60000, n: 1}}
)");
  auto r = l.run(0);
  CHECK(!r.passed);
  CHECK(r.report ==
        "sink topic counts: expected 4 records, written 3\n"
        "  (- expected only, + written only, ~ differs: expected, then written)\n"
        "  ~ {\"key\":\"u1\",\"value\":{\"user\":\"u1\",\"window_start\":0,\"window_end\":60000,"
        "\"n\":3}}\n"
        "  ~ {\"key\":\"u1\",\"value\":{\"user\":\"u1\",\"window_start\":0,\"window_end\":60000,"
        "\"n\":2}}\n"
        "    {\"value\":{\"user\":\"u2\",\"window_start\":0,\"window_end\":60000,\"n\":1}}\n"
        "  ~ {\"key\":\"u4\",\"timestamp\":59999,\"value\":{\"user\":\"u4\",\"window_start\":0,"
        "\"window_end\":60000,\"n\":1}}\n"
        "  ~ {\"key\":\"u3\",\"timestamp\":59999,\"value\":{\"user\":\"u3\",\"window_start\":0,"
        "\"window_end\":60000,\"n\":1}}\n"
        "  - {\"value\":{\"user\":\"u5\",\"window_start\":0,\"window_end\":60000,\"n\":1}}\n"
        "record errors: source invalid_json x1\n");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].step == "source");
  CHECK(r.errors[0].code == "invalid_json");
  CHECK(r.errors[0].count == 1);
}

TEST_CASE("records nobody expected are listed with every field") {
  loaded l(R"(tests:
  - name: unexpected
    input: [{key: u1, value: {ts: 0, user: u1, kind: view}}]
    advance_watermark_to: 1m
    expect: []
)");
  auto r = l.run(0);
  CHECK(!r.passed);
  CHECK(r.report ==
        "sink topic counts: expected 0 records, written 1\n"
        "  (- expected only, + written only, ~ differs: expected, then written)\n"
        "  + {\"key\":\"u1\",\"timestamp\":59999,\"value\":{\"user\":\"u1\",\"window_start\":0,"
        "\"window_end\":60000,\"n\":1}}\n");
}

TEST_CASE("the sequenced form interleaves records and watermarks and late records change nothing") {
  loaded l(R"(tests:
  - name: late record after the window closed
    steps:
      - input: [{value: {ts: 0, user: u1, kind: view}}]
      - advance_watermark_to: 1m
      - input:
          - {value: {ts: 5000, user: u1, kind: view}}
          - {value: {ts: 65000, user: u1, kind: view}}
      - advance_watermark_to: 2m
    expect:
      - {value: {user: u1, window_start: 0, window_end: 60000, n: 1}}
      - {value: {user: u1, window_start: 60000, window_end: 120000, n: 1}}
)");
  auto r = l.run(0);
  INFO(r.report);
  CHECK(r.passed);
  CHECK(l.registry.render().find(
            "weir_late_records_total{pipeline=\"counts\",step=\"per-user\"} 1") !=
        std::string::npos);
}

TEST_CASE("idle partitions: after idle_timeout of virtual time the watermark follows the clock") {
  std::string pipeline = counts_pipeline;
  pipeline.replace(pipeline.find("idle_timeout: off"), 17, "idle_timeout: 10s");
  loaded l(R"(tests:
  - name: not yet
    input: [{value: {ts: 0, user: u1, kind: view}}]
    advance_time: 69s
    expect: []
  - name: closes
    input: [{value: {ts: 0, user: u1, kind: view}}]
    advance_time: 70s
    expect: [{value: {user: u1, window_start: 0, window_end: 60000, n: 1}}]
  - name: in steps
    steps:
      - input: [{value: {ts: 0, user: u1, kind: view}}]
      - advance_time: 35s
      - advance_time: 35s
    expect: [{value: {user: u1, window_start: 0, window_end: 60000, n: 1}}]
)",
           pipeline);
  for (std::size_t i = 0; i < l.cases.size(); ++i) {
    auto r = l.run(i);
    INFO(l.cases[i].name << "\n" << r.report);
    CHECK(r.passed);
  }
}

TEST_CASE("each partition gets its own task and the watermark is raised on every one") {
  loaded l(R"(tests:
  - name: two partitions
    input:
      - {value: {ts: 0, user: u1, kind: view}, partition: 0}
      - {value: {ts: 0, user: u1, kind: view}, partition: 1}
      - {value: {ts: 70000, user: u2, kind: view}, partition: 1}
    advance_watermark_to: 1m
    expect:
      - {value: {user: u1, window_start: 0, window_end: 60000, n: 1}}
      - {value: {user: u1, window_start: 0, window_end: 60000, n: 1}}
)");
  auto r = l.run(0);
  INFO(r.report);
  CHECK(r.passed);
}

TEST_CASE("a case feeding several partitions of a window that regroups across them fails") {
  std::string pipeline = counts_pipeline;
  pipeline.replace(pipeline.find("  partitioned_by: user\n"), 23, "");
  loaded l(R"(tests:
  - name: two partitions
    input:
      - {value: {ts: 0, user: u1, kind: view}, partition: 0}
      - {value: {ts: 0, user: u1, kind: view}, partition: 1}
    advance_watermark_to: 1m
    expect:
      - {value: {user: u1, window_start: 0, window_end: 60000, n: 2}}
  - name: one partition
    input:
      - {value: {ts: 0, user: u1, kind: view}, partition: 1}
      - {value: {ts: 0, user: u1, kind: view}, partition: 1}
    advance_watermark_to: 1m
    expect:
      - {value: {user: u1, window_start: 0, window_end: 60000, n: 2}}
)",
           pipeline);
  auto r = l.run(0);
  CHECK_FALSE(r.passed);
  CHECK(r.report.find("the inputs are in 2 partitions, and step per-user groups across "
                      "partitions") != std::string::npos);
  auto one = l.run(1);
  INFO(one.report);
  CHECK(one.passed);
}

TEST_CASE("cases do not share state and the same case gives the same output") {
  loaded l(R"(tests:
  - name: once
    input: [{value: {ts: 0, user: u1, kind: view}}]
    advance_watermark_to: 1m
    expect: [{value: {user: u1, window_start: 0, window_end: 60000, n: 1}}]
)");
  auto first = l.run(0);
  auto second = l.run(0);
  CHECK(first.passed);
  CHECK(second.passed);
  REQUIRE(first.written.size() == second.written.size());
  CHECK(first.written[0].value == second.written[0].value);
}

TEST_CASE("keys and timestamps and headers are compared only when the expectation gives them") {
  const std::string pass_through = R"(pipeline: pass
source: {topic: in, event_time: {field: ts}}
steps:
  - filter: ok
sink: {topic: out}
)";
  loaded l(R"(tests:
  - name: fields given
    input:
      - {key: k1, value: {ts: 5, ok: true}, timestamp: 1000, headers: {h: v}}
      - {key: '7', value: {ts: 6, ok: true}}
      - {value: {ts: 7, ok: true}}
      - {value: {ts: 8, ok: false}}
    expect:
      - {key: k1, timestamp: 5, headers: {}, value: {ok: true, ts: 5.0}}
      - {key: 7, value: {ts: 6, ok: true}}
      - {key: null, value: {ts: 7, ok: true}}
  - name: wrong key
    input: [{key: k1, value: {ts: 5, ok: true}}]
    expect: [{key: k2, value: {ts: 5, ok: true}}]
  - name: wrong timestamp
    input: [{key: k1, value: {ts: 5, ok: true}}]
    expect: [{timestamp: 1000, value: {ts: 5, ok: true}}]
)",
           pass_through);
  auto r = l.run(0);
  INFO(r.report);
  CHECK(r.passed);
  auto wrong_key = l.run(1);
  CHECK(!wrong_key.passed);
  CHECK(wrong_key.report.find("  ~ {\"key\":\"k2\",\"value\":{\"ts\":5,\"ok\":true}}\n"
                              "  ~ {\"key\":\"k1\",\"value\":{\"ts\":5,\"ok\":true}}\n") !=
        std::string::npos);
  auto wrong_time = l.run(2);
  CHECK(!wrong_time.passed);
  CHECK(wrong_time.report.find("  ~ {\"timestamp\":5,\"value\":{\"ts\":5,\"ok\":true}}\n") !=
        std::string::npos);
}

TEST_CASE("a record error does not fail a case by itself but is counted") {
  loaded l(R"(tests:
  - name: malformed input is skipped
    input:
      - {value: '{"bad json', raw: true}
      - {value: {user: u1, kind: view}}
      - {}
    advance_watermark_to: 1m
    expect: []
)");
  auto r = l.run(0);
  CHECK(r.passed);
  REQUIRE(r.errors.size() == 2);
  CHECK(r.errors[0].step == "source");
  CHECK(r.errors[0].code == "invalid_json");
  CHECK(r.errors[0].count == 2);
  CHECK(r.errors[1].code == "missing_field");
}

TEST_CASE("expect_late compares the records written to the late topic") {
  std::string pipeline = counts_pipeline;
  pipeline.replace(pipeline.find("aggregate: {n: count()}"), 23,
                   "aggregate: {n: count()}\n      late: {topic: too-late}");
  loaded l(R"(tests:
  - name: late record
    steps:
      - input: [{value: {ts: 0, user: u1, kind: view}}]
      - advance_watermark_to: 1m
      - input: [{key: u1, value: {ts: 5, user: u1, kind: view}, timestamp: 7, headers: {h: v}}]
    expect: [{value: {user: u1, window_start: 0, window_end: 60000, n: 1}}]
    expect_late:
      - {key: u1, timestamp: 7, headers: {h: v}, value: {ts: 5, user: u1, kind: view}}
  - name: wrong late record
    steps:
      - input: [{value: {ts: 0, user: u1, kind: view}}]
      - advance_watermark_to: 1m
      - input: [{value: {ts: 5, user: u1, kind: view}}]
    expect: [{value: {user: u1, window_start: 0, window_end: 60000, n: 1}}]
    expect_late: []
)",
           pipeline);
  auto r = l.run(0);
  INFO(r.report);
  CHECK(r.passed);
  auto wrong = l.run(1);
  CHECK(!wrong.passed);
  CHECK(wrong.report ==
        "late topic too-late: expected 0 records, written 1\n"
        "  (- expected only, + written only, ~ differs: expected, then written)\n"
        "  + "
        "{\"key\":null,\"timestamp\":0,\"value\":{\"ts\":5,\"user\":\"u1\",\"kind\":\"view\"}}\n");
}

TEST_CASE("routed records are counted per sink topic and unrouted ones apart") {
  const std::string routed = R"(pipeline: routed
source: {topic: in, event_time: {field: ts}}
sinks:
  - {topic: big, key: id, when: n > 10}
  - {topic: small, when: n >= 0}
)";
  loaded l(R"(tests:
  - name: t
    input:
      - {key: a, value: {ts: 1, id: i1, n: 50}}
      - {key: b, value: {ts: 2, id: i2, n: 5}}
      - {key: c, value: {ts: 3, id: i3, n: -5}}
      - {key: d, value: {ts: 4, id: i4}}
      - {key: e, value: {ts: 5, id: i5, n: "x"}}
    expect:
      - {topic: small, key: b, value: {ts: 2, id: i2, n: 5}}
      - {topic: big, key: i1, value: {ts: 1, id: i1, n: 50}}
)",
           routed);
  auto r = l.run(0);
  INFO(r.report);
  CHECK(r.passed);
  REQUIRE(r.written.size() == 2);
  CHECK(r.written[0].topic == "big");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].step == "sink");
  CHECK(r.errors[0].code == "type_error");
  const std::string text = l.registry.render();
  CHECK(text.find("weir_unrouted_records_total{pipeline=\"routed\"} 2\n") != std::string::npos);
  CHECK(text.find("weir_records_produced_total{pipeline=\"routed\",topic=\"big\"} 1\n") !=
        std::string::npos);
  CHECK(text.find("weir_records_produced_total{pipeline=\"routed\",topic=\"small\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("a sink's when must be a condition, pointed at where it is wrong") {
  metrics::registry registry;
  config::diagnostics diag("t.yaml");
  auto spec = config::load_pipeline_text(R"(pipeline: p
source: {topic: in}
sinks:
  - {topic: a, when: n + 1}
  - {topic: b, when: 'n >', key: upper(5)}
)",
                                         diag);
  REQUIRE(spec);
  REQUIRE(diag.ok());
  CHECK(runtime::build_topology(std::move(*spec), std::nullopt, registry, diag) == nullptr);
  std::vector<std::string> got;
  for (const auto& d : diag.list()) got.push_back(d.format());
  std::vector<std::string> want = {
      "t.yaml:4:22: sinks[1].when must be a condition (true or false)",
      "t.yaml:5:40: sinks[2].key: function 'upper' needs a string, got number",
      "t.yaml:5:26: sinks[2].when: unexpected end of expression",
  };
  CHECK(got == want);
}
