// at_least_once: a changelog that reaches the broker tells whoever restores
// from it that its checkpoint's outputs are written, so they are never
// written again. The outputs must therefore be delivered before any of the
// checkpoint's changelog records. Here the broker leading the output topic
// refuses produce requests for a few seconds (a retriable error) while the
// changelog's takes them at once: every progress record seen in the
// changelog must be covered by outputs already in the output topic. When
// one flush sent both, the changelog arrived seconds before the outputs,
// and a crash in between lost them (window results missing for good after
// a restart on another process).
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "support/kafka_mock_cluster.h"
#include "weir/kafka/client.h"
#include "weir/runtime/topology.h"
#include "weir/runtime/worker.h"
#include "weir/state/changelog.h"

using namespace weir;

namespace {

// The records in partition 0 of `topic`.
std::int64_t end_offset(kafka::partition_reader& r, const std::string& topic) {
  auto b = r.bounds({{topic, 0}}, std::chrono::seconds(10));
  REQUIRE(b);
  return b->at(0).high;
}

// The next offset named by the last progress record in the changelog, or -1.
std::int64_t changelog_progress(const kafka::client_settings& s, const std::string& topic) {
  auto r = kafka::make_partition_reader(s);
  REQUIRE(r);
  const std::int64_t end = end_offset(**r, topic);
  if (end == 0) return -1;
  REQUIRE((*r)->assign({{{topic, 0}, kafka::from_beginning}}));
  auto db = state::open_memory();
  auto store = db->open_store("scratch");
  REQUIRE(store);
  state::changelog_applier applier(*db, **store);
  std::int64_t read = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (read < end && std::chrono::steady_clock::now() < deadline) {
    auto item = (*r)->poll(std::chrono::milliseconds(100));
    REQUIRE(item);
    if (!item->record) continue;
    const auto& v = item->record->view();
    std::optional<std::string_view> value;
    if (v.value) value = *v.value;
    REQUIRE(applier.add(v.key.value_or(""), value));
    read = v.offset + 1;
  }
  REQUIRE(read >= end);
  return applier.last_progress() ? applier.last_progress()->next_offset : -1;
}

}  // namespace

TEST_CASE("at_least_once delivers a checkpoint's outputs before its changelog") {
  test::kafka_mock_cluster cluster(2);
  cluster.create_topic("in", 1);
  cluster.create_topic("out", 1);
  cluster.create_topic("p.w.changelog", 1);
  cluster.set_leader("in", 0, 1);
  cluster.set_leader("p.w.changelog", 0, 1);
  cluster.set_leader("out", 0, 2);
  cluster.set_coordinator("group", "p", 1);
  kafka::client_settings s;
  s.bootstrap_servers = cluster.bootstraps();

  // Ten records in the window [0, 10 s) and one at 100 s whose watermark
  // closes it: the result comes with the record at offset 10.
  auto p = kafka::make_producer(s);
  REQUIRE(p);
  for (int i = 0; i <= 10; ++i) {
    core::output_record r;
    r.topic = "in";
    const long long t = i < 10 ? i * 1000 : 100'000;
    r.value = R"({"k":"a","t":)" + std::to_string(t) + "}";
    REQUIRE((*p)->produce(std::move(r)));
  }
  REQUIRE((*p)->flush(std::chrono::seconds(10)));
  p->reset();

  config::diagnostics diag("p.yaml");
  auto spec = config::load_pipeline_text(R"(pipeline: p
source:
  topic: in
  event_time: {field: t, format: epoch_ms}
  watermark: {max_out_of_orderness: 0s, idle_timeout: off}
steps:
  - id: w
    window: {group_by: [k], tumbling: 10s, aggregate: {n: count()}}
sink: {topic: out}
processing: {guarantee: at_least_once, commit_interval: 100ms}
)",
                                         diag);
  REQUIRE(spec);
  metrics::registry registry;
  auto t = runtime::build_topology(std::move(*spec), 1, registry, diag);
  REQUIRE(t);
  auto db = state::open_memory();

  auto outputs = kafka::make_partition_reader(s);
  REQUIRE(outputs);
  // The output topic's leader refuses the next 30 produce requests, each
  // answered after 100 ms: the producer retries for three seconds or more.
  constexpr std::int16_t produce_api = 0;
  cluster.fail_broker_requests(2, produce_api, 30, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, 100);
  std::atomic<bool> stop{false};
  runtime::worker w(*t, s, *db, "w0", std::nullopt);
  w.start(stop);
  // Stops the worker however the test ends (a failed REQUIRE throws).
  struct stopper {
    std::atomic<bool>& stop;
    runtime::worker& w;
    ~stopper() {
      stop = true;
      w.join();
    }
  } guard{stop, w};
  std::int64_t progress = -1, out = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline &&
         w.current_phase() != runtime::worker::phase::failed) {
    // Outputs first, then the changelog: a progress read after the output
    // count may only be ahead of it by what was delivered in between.
    out = end_offset(**outputs, "out");
    progress = changelog_progress(s, "p.w.changelog");
    INFO("changelog progress " << progress << ", outputs " << out);
    if (progress >= 11) {
      // The checkpoint covering the closing record was logged: its result
      // must have been in the output topic before.
      REQUIRE(end_offset(**outputs, "out") >= 1);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  w.join();
  INFO(w.failure());
  CHECK(progress >= 11);
  CHECK(end_offset(**outputs, "out") == 1);
}
