// A worker against librdkafka's mock cluster, with a broker error injected:
// the mock cannot test exactly-once itself (it filters no aborted records and
// stores no transactional offsets), only that the worker takes the path
// librdkafka documents for an abortable transaction error — abort, rewind
// to the last checkpoint, go on — instead of stopping.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "support/kafka_mock_cluster.h"
#include "weir/kafka/client.h"
#include "weir/runtime/topology.h"
#include "weir/runtime/worker.h"

using namespace weir;

namespace {

// The value of the first sample of `name` in the registry's text form.
double sample(const metrics::registry& r, const std::string& name) {
  const std::string text = r.render();
  for (std::size_t at = 0; (at = text.find(name, at)) != std::string::npos; ++at) {
    if (at > 0 && text[at - 1] != '\n') continue;
    const auto end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

std::size_t count_records(const kafka::client_settings& s, const std::string& topic) {
  auto reader = kafka::make_partition_reader(s);
  REQUIRE(reader);
  auto ends = (*reader)->bounds({{topic, 0}}, std::chrono::seconds(10));
  REQUIRE(ends);
  return static_cast<std::size_t>(ends->at(0).high);
}

}  // namespace

TEST_CASE("an abortable transaction error rewinds the worker, which goes on") {
  test::kafka_mock_cluster cluster;
  cluster.create_topic("in", 1);
  cluster.create_topic("out", 1);
  kafka::client_settings s;
  s.bootstrap_servers = cluster.bootstraps();

  auto p = kafka::make_producer(s);
  REQUIRE(p);
  for (int i = 0; i < 10; ++i) {
    core::output_record r;
    r.topic = "in";
    r.value = R"({"n":)" + std::to_string(i) + "}";
    REQUIRE((*p)->produce(std::move(r)));
  }
  REQUIRE((*p)->flush(std::chrono::seconds(10)));
  p->reset();

  config::diagnostics diag("p.yaml");
  auto spec = config::load_pipeline_text(R"(pipeline: p
source: {topic: in}
steps:
  - filter: n >= 0
sink: {topic: out}
processing: {guarantee: exactly_once, commit_interval: 100ms}
)",
                                         diag);
  REQUIRE(spec);
  metrics::registry registry;
  auto t = runtime::build_topology(std::move(*spec), 1, registry, diag);
  REQUIRE(t);
  auto db = state::open_memory();

  // The worker's first produce is refused: its transaction must be aborted.
  constexpr std::int16_t produce_api = 0;  // the Produce request's API key
  cluster.fail_requests(produce_api, {RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED});
  std::atomic<bool> stop{false};
  runtime::worker w(*t, s, *db, "w0", std::nullopt);
  w.start(stop);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline &&
         w.current_phase() != runtime::worker::phase::failed &&
         !(sample(registry, "weir_transactions_aborted_total") >= 1 &&
           sample(registry, "weir_transactions_committed_total") >= 1 &&
           count_records(s, "out") >= 10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  w.join();
  INFO(w.failure());
  CHECK(w.current_phase() == runtime::worker::phase::stopped);
  // The client library keeps refusing the topic for a moment after the
  // error: the first retries may abort too.
  CHECK(sample(registry, "weir_transactions_aborted_total") >= 1);
  CHECK(sample(registry, "weir_transactions_committed_total") >= 1);
  // Every record's result was written after the rewind.
  CHECK(count_records(s, "out") >= 10);
}
