#include <catch2/catch.hpp>

#include <map>

#include "weir/core/json.h"
#include "weir/runtime/task.h"
#include "weir/runtime/topology.h"
#include "weir/time/clock.h"

using namespace weir;

namespace {

// Counts per region, while the source is partitioned by user.
const std::string regions_pipeline = R"(pipeline: p
source:
  topic: events
  partitioned_by: user
  event_time: {field: ts}
  watermark: {max_out_of_orderness: 0s}
steps:
  - filter: kind == "buy"
  - id: regions
    window:
      group_by: [region]
      tumbling: 10s
      aggregate: {n: count()}
sink: {topic: out}
)";

struct built {
  built(const std::string& yaml, std::optional<int> partitions) : diag("p.yaml") {
    auto spec = config::load_pipeline_text(yaml, diag);
    REQUIRE(spec);
    topology = runtime::build_topology(std::move(*spec), partitions, registry, diag);
    REQUIRE(topology);
  }
  metrics::registry registry;
  config::diagnostics diag;
  std::unique_ptr<runtime::topology> topology;
};

struct collecting final : runtime::record_sink {
  void write(core::output_record&& r) override { records.push_back(std::move(r)); }
  std::vector<core::output_record> records;
};

// A consumed record; its bytes live in the struct.
struct message {
  std::string topic;
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  core::record_view view(std::int32_t partition, std::int64_t offset, std::int64_t ts) const {
    core::record_view r;
    r.topic = topic;
    r.partition = partition;
    r.offset = offset;
    r.timestamp_ms = ts;
    if (key) r.key = *key;
    r.value = value;
    for (const auto& [k, v] : headers) r.headers.push_back({k, v});
    return r;
  }
};

}  // namespace

TEST_CASE("a window whose groups span partitions starts a stage behind a repartition topic") {
  built two(regions_pipeline, 3);
  const auto& t = *two.topology;
  REQUIRE(t.stages.size() == 2);
  CHECK(t.partitions == 3);
  CHECK(t.stages[0].input == "events");
  CHECK(t.stages[0].first_step == 0);
  CHECK(t.stages[0].end_step == 1);
  CHECK(t.stages[0].output == "p.regions.repartition");
  CHECK(t.stages[0].keyed_by == t.steps[1].get());
  CHECK_FALSE(t.stages[0].repartitioned);
  CHECK(t.stages[1].input == "p.regions.repartition");
  CHECK(t.stages[1].first_step == 1);
  CHECK(t.stages[1].end_step == 2);
  CHECK(t.stages[1].repartitioned);
  CHECK_FALSE(t.stages[1].output);
  CHECK(t.stage_of("p.regions.repartition") == &t.stages[1]);
  CHECK(t.stage_of("other") == nullptr);

  // One partition, or a partition count not known (weir test, validate):
  // every group is in its partition already.
  CHECK(built(regions_pipeline, 1).topology->stages.size() == 1);
  CHECK(built(regions_pipeline, std::nullopt).topology->stages.size() == 1);
  // Covered by partitioned_by: no repartition.
  std::string covered = regions_pipeline;
  covered.replace(covered.find("[region]"), 8, "[region, user]");
  CHECK(built(covered, 3).topology->stages.size() == 1);
  CHECK(runtime::regrouping_steps(*built(covered, 3).topology).empty());
  CHECK(runtime::regrouping_steps(*built(regions_pipeline, std::nullopt).topology) ==
        std::vector<std::size_t>{1});
}

TEST_CASE("a second window regroups again unless the first one's grouping covers it") {
  const std::string chained = R"(pipeline: p
source: {topic: events}
steps:
  - id: per_user
    window: {group_by: [user, region], tumbling: 10s, aggregate: {n: count()}}
  - id: per_region
    window: {group_by: [region], tumbling: 1m, aggregate: {users: count()}}
  - id: again
    window: {group_by: [region], tumbling: 1h, aggregate: {m: count()}}
sink: {topic: out}
)";
  built b(chained, 2);
  const auto& t = *b.topology;
  REQUIRE(t.stages.size() == 3);
  CHECK(t.stages[0].output == "p.per_user.repartition");
  CHECK(t.stages[0].end_step == 0);
  CHECK(t.stages[1].output == "p.per_region.repartition");
  CHECK(t.stages[1].first_step == 0);
  CHECK(t.stages[1].end_step == 1);
  CHECK(t.stages[2].first_step == 1);
  CHECK(t.stages[2].end_step == 3);
}

TEST_CASE("a record's repartition partition is a stable hash of its group key") {
  CHECK(runtime::repartition_partition("[\"eu\"]", 4) == 3);
  CHECK(runtime::repartition_partition("", 4) ==
        static_cast<std::int32_t>(14695981039346656037ULL % 4));
  CHECK(runtime::repartition_partition("anything", 1) == 0);
}

TEST_CASE("an upstream task writes keyed records and its watermark to every partition") {
  built b(regions_pipeline, 3);
  const auto& t = *b.topology;
  auto db = state::open_memory();
  collecting sink;
  runtime::error_reporter errors(t, &sink);
  time::manual_clock clock(0);
  runtime::task up(t, t.stages[0], 1, *db, sink, errors, clock);
  REQUIRE(up.restore().ok());

  message in{"events", "u1", R"({"ts":5000,"user":"u1","region":"eu","kind":"buy"})", {}};
  up.process(in.view(1, 0, 1));
  message filtered{"events", "u2", R"({"ts":7000,"user":"u2","region":"us","kind":"view"})", {}};
  up.process(filtered.view(1, 1, 1));
  REQUIRE(sink.records.size() == 1);
  const auto& r = sink.records[0];
  CHECK(r.topic == "p.regions.repartition");
  CHECK(r.key == "[\"eu\"]");
  CHECK(r.partition == runtime::repartition_partition("[\"eu\"]", 3));
  CHECK(r.timestamp_ms == 5000);  // the event time
  CHECK(core::parse_json(r.value)->find("region")->as_string() == "eu");
  sink.records.clear();

  // The watermark (7000: the filtered record counts) goes to each partition once.
  up.tick();
  REQUIRE(sink.records.size() == 3);
  for (std::int32_t p = 0; p < 3; ++p) {
    const auto& m = sink.records[static_cast<std::size_t>(p)];
    CHECK(m.partition == p);
    CHECK(m.value.empty());
    CHECK_FALSE(m.key);
    REQUIRE(m.headers.size() == 2);
    CHECK(m.headers[0].key == "weir.watermark");
    CHECK(m.headers[0].value == "7000");
    CHECK(m.headers[1].key == "weir.upstream");
    CHECK(m.headers[1].value == "1");
  }
  sink.records.clear();
  up.tick();
  CHECK(sink.records.empty());  // unchanged: not written again
}

TEST_CASE("a downstream task's watermark is the lowest over the upstream tasks") {
  built b(regions_pipeline, 2);
  const auto& t = *b.topology;
  auto db = state::open_memory();
  collecting sink;
  runtime::error_reporter errors(t, &sink);
  time::manual_clock clock(0);
  runtime::task down(t, t.stages[1], 0, *db, sink, errors, clock);
  REQUIRE(down.restore().ok());
  const std::string topic = "p.regions.repartition";
  std::int64_t offset = 0;
  auto record = [&](const std::string& region, std::int64_t ts) {
    message m{topic,
              "[\"" + region + "\"]",
              R"({"ts":)" + std::to_string(ts) + R"(,"region":")" + region + R"(","kind":"buy"})",
              {}};
    down.process(m.view(0, offset++, ts));
  };
  auto mark = [&](int from, std::int64_t wm) {
    message m{topic,
              std::nullopt,
              "",
              {{"weir.watermark", std::to_string(wm)}, {"weir.upstream", std::to_string(from)}}};
    down.process(m.view(0, offset++, wm));
  };
  record("eu", 1000);
  record("eu", 9000);
  mark(0, 15000);
  CHECK(sink.records.empty());  // upstream 1 has said nothing yet
  CHECK(down.watermark() == core::min_time);
  mark(1, 9500);
  CHECK(down.watermark() == 9500);
  CHECK(sink.records.empty());
  // Upstream 1's record, behind upstream 0's watermark but not its own: on time.
  record("eu", 9800);
  // Event time comes from the record timestamp, not from a field.
  message shifted{topic, "[\"eu\"]", R"({"region":"eu","kind":"buy"})", {}};
  down.process(shifted.view(0, offset++, 9900));
  mark(1, 12000);
  REQUIRE(sink.records.size() == 1);
  auto v = core::parse_json(sink.records[0].value);
  CHECK(v->find("n")->as_number() == 4);
  CHECK(v->find("window_start")->as_number() == 0);
  CHECK(down.watermark() == 12000);
  // Backwards marks change nothing; a mark from an unknown upstream is a record error.
  mark(0, 100);
  CHECK(down.watermark() == 12000);
  mark(7, 50000);
  CHECK(down.watermark() == 12000);
  CHECK(b.registry.render().find("weir_record_errors_total{pipeline=\"p\",step=\"source\"") !=
        std::string::npos);
}

TEST_CASE("at_least_once: records an upstream restart writes again are applied once") {
  built b(regions_pipeline, 2);
  const auto& t = *b.topology;
  REQUIRE(t.stages[1].repeated);
  auto db = state::open_memory();
  collecting sink;
  runtime::error_reporter errors(t, &sink);
  time::manual_clock clock(0);

  // Upstream: each record names its input partition, offset and index.
  runtime::task up(t, t.stages[0], 1, *db, sink, errors, clock);
  REQUIRE(up.restore().ok());
  message in{"events", "u1", R"({"ts":5000,"user":"u1","region":"eu","kind":"buy"})", {}};
  up.process(in.view(1, 41, 1));
  REQUIRE(sink.records.size() == 1);
  REQUIRE(sink.records[0].headers.size() == 1);
  CHECK(sink.records[0].headers[0].key == "weir.from");
  CHECK(sink.records[0].headers[0].value == "1:41:0");
  sink.records.clear();

  const std::string topic = "p.regions.repartition";
  std::int64_t offset = 0;
  auto feed = [&](runtime::task& down, const std::string& from, std::int64_t ts) {
    message m{topic, "[\"eu\"]", R"({"region":"eu","kind":"buy"})", {{"weir.from", from}}};
    down.process(m.view(0, offset++, ts));
  };
  auto mark = [&](runtime::task& down, int from, std::int64_t wm) {
    message m{topic,
              std::nullopt,
              "",
              {{"weir.watermark", std::to_string(wm)}, {"weir.upstream", std::to_string(from)}}};
    down.process(m.view(0, offset++, wm));
  };
  {
    runtime::task down(t, t.stages[1], 0, *db, sink, errors, clock);
    REQUIRE(down.restore().ok());
    feed(down, "0:5:0", 1000);
    feed(down, "0:5:1", 1000);  // a second record from the same input record
    feed(down, "1:3:0", 1000);
    state::write_batch batch;
    down.checkpoint(batch);
    REQUIRE(db->write(batch).ok());
  }
  // Restarted on its own state; upstream 0 restarted too and writes 0:5:1 again.
  runtime::task down(t, t.stages[1], 0, *db, sink, errors, clock);
  REQUIRE(down.restore().ok());
  feed(down, "0:5:1", 1000);
  feed(down, "0:4:0", 1000);
  feed(down, "1:3:0", 1000);
  feed(down, "0:6:0", 1000);  // new
  feed(down, "1:4:0", 1000);  // new
  mark(down, 0, 20000);
  mark(down, 1, 20000);
  REQUIRE(sink.records.size() == 1);
  // The three checkpointed and the two new ones; the three repeats are not
  // counted again.
  CHECK(core::parse_json(sink.records[0].value)->find("n")->as_number() == 5);
  CHECK(b.registry.render().find("weir_repartition_repeats_total{pipeline=\"p\",topic=\"p.regions."
                                 "repartition\"} 3") != std::string::npos);
}
