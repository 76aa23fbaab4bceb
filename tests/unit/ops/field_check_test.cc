#include <catch2/catch.hpp>

#include "weir/config/pipeline.h"
#include "weir/ops/field_check.h"

using namespace weir;

namespace {

// Problems check_field_uses finds in a pipeline with `steps` and `sink`
// (the steps start at line 3).
std::vector<std::string> problems(const std::string& steps_and_sink) {
  config::diagnostics diag("f.yaml");
  auto spec = config::load_pipeline_text(
      "pipeline: p\nsource: {topic: in, partitioned_by: user}\n" + steps_and_sink, diag);
  REQUIRE(spec);
  REQUIRE(diag.ok());
  ops::check_field_uses(*spec, diag);
  std::vector<std::string> out;
  for (const auto& d : diag.list()) out.push_back(d.format());
  return out;
}

}  // namespace

TEST_CASE("a field read after a window that does not emit it is an error at the read") {
  auto p = problems(R"(steps:
  - id: w
    window: {group_by: [user], tumbling: 1m, aggregate: {n: count(), total: sum(amount)}}
  - filter: n > 2 and amount > 100
  - map: {avg: total / n, region: upper(region)}
sink: {topic: out, key: card_id}
)");
  std::vector<std::string> want = {
      "f.yaml:6:23: filter: field 'amount' cannot exist here: after window step w, records "
      "have only the fields user, window_start, window_end, n, total",
      "f.yaml:7:41: map 'region': field 'region' cannot exist here: after window step w, "
      "records have only the fields user, window_start, window_end, n, total, avg",
      "f.yaml:8:25: sink.key: field 'card_id' cannot exist here: after window step w, records "
      "have only the fields user, window_start, window_end, n, total, avg, region",
  };
  CHECK(p == want);
}

TEST_CASE("window results have revision and final unless they emit final") {
  const std::string head = R"(steps:
  - id: w
    window: {group_by: [user], tumbling: 1m, aggregate: {n: count()}, emit: EMIT}
)";
  auto with = [&](const std::string& emit) {
    std::string s = head;
    s.replace(s.find("EMIT"), 4, emit);
    return problems(s + "sinks:\n  - {topic: a, when: final and revision > 1}\n  - {topic: b}\n");
  };
  CHECK(with("on_watermark").empty());
  CHECK(with("{changes: 1s}").empty());
  auto p = with("final");
  REQUIRE(p.size() == 2);
  CHECK(p[0].rfind("f.yaml:7:22: sinks[1].when: field 'final' cannot exist here: ", 0) == 0);
  CHECK(p[1].rfind("f.yaml:7:32: sinks[1].when: field 'revision' cannot exist here: ", 0) == 0);
}

TEST_CASE("fields dropped or renamed by a map cannot be read after it until set again") {
  auto p = problems(R"(steps:
  - map: {masked: 'substr(card_number, -4)'}
    drop: [card_number, user.email]
    rename: {amount: amount_cents}
  - filter: card_number != null and user.email != null
  - dedupe: {key: amount, within: 1m}
    id: d
  - map: {card_number: masked}
  - filter: card_number != null and amount_cents > 0
sink: {topic: out, key: amount}
)");
  std::vector<std::string> want = {
      "f.yaml:7:13: filter: field 'card_number' cannot exist here: step map-1 dropped it",
      "f.yaml:8:19: dedupe.key: field 'amount' cannot exist here: step map-1 renamed it to "
      "'amount_cents'",
      "f.yaml:12:25: sink.key: field 'amount' cannot exist here: step map-1 renamed it to "
      "'amount_cents'",
  };
  CHECK(p == want);
}

TEST_CASE("nothing is reported where the record shape is unknown") {
  // Source records are schemaless; an enrich without fields copies whole
  // rows; explode keeps its field unless `as` moves the element.
  CHECK(problems(R"(steps:
  - filter: anything > 0 and $value["odd key"] != null
  - map: {x: 1}
    drop: [a]
  - enrich: {table: t, key: k}
  - filter: a != null
sink: {topic: out, key: whatever}
tables: {t: {topic: t}}
)")
            .empty());
  auto p = problems(R"(steps:
  - explode: {field: items, as: item}
  - filter: item.price > 0 and items != null
sink: {topic: out}
)");
  REQUIRE(p.size() == 1);
  CHECK(p[0] ==
        "f.yaml:5:32: filter: field 'items' cannot exist here: step explode-1 replaced it by "
        "'item'");
}

TEST_CASE("a window grouped by a nested path names its result field as written") {
  auto p = problems(R"(steps:
  - id: w
    window: {group_by: [device.id], tumbling: 1m, aggregate: {n: count()}}
sink: {topic: out, key: device.id}
)");
  REQUIRE(p.size() == 1);
  CHECK(p[0] ==
        "f.yaml:6:25: sink.key: field 'device' cannot exist here: after window step w, records "
        "have only the fields device.id, window_start, window_end, n (read the field named "
        "'device.id' as $value[\"device.id\"])");
}
