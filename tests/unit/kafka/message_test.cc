#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>

#include "support/kafka_mock_cluster.h"
#include "weir/kafka/client.h"

using namespace weir;
using namespace weir::kafka;

using test::kafka_mock_cluster;

TEST_CASE("a consumed record's view names its topic, partition, offset, key, value and headers") {
  kafka_mock_cluster cluster;
  // Longer than any short-string buffer, so the name lives on the heap.
  const std::string topic = "a-source-topic-with-a-name-longer-than-any-inline-buffer";
  cluster.create_topic(topic, 1);
  client_settings s;
  s.bootstrap_servers = cluster.bootstraps();

  auto p = make_producer(s);
  REQUIRE(p);
  core::output_record out;
  out.topic = topic;
  out.key = "k1";
  out.value = R"({"a":1})";
  out.timestamp_ms = 1'700'000'000'000;
  out.headers.push_back({"h", std::optional<std::string>("v")});
  REQUIRE((*p)->produce(std::move(out)));
  REQUIRE((*p)->flush(std::chrono::seconds(10)));

  rebalance_listener listener{[](const auto&) { return std::vector<partition_offset>{}; },
                              [](const auto&, bool) {}, [](const std::string&) {}};
  auto c = make_consumer(s, "message-view-test", std::move(listener));
  REQUIRE(c);
  REQUIRE((*c)->subscribe({topic}));
  std::unique_ptr<message> m;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!m && std::chrono::steady_clock::now() < deadline) {
    auto r = (*c)->poll(std::chrono::milliseconds(200));
    REQUIRE(r);
    m = std::move(*r);
  }
  REQUIRE(m);
  const auto& v = m->view();
  CHECK(v.topic == topic);
  CHECK(v.partition == 0);
  CHECK(v.offset == 0);
  REQUIRE(v.key);
  CHECK(*v.key == "k1");
  REQUIRE(v.value);
  CHECK(*v.value == R"({"a":1})");
  CHECK(v.timestamp_ms == 1'700'000'000'000);
  REQUIRE(v.headers.size() == 1);
  CHECK(v.headers[0].key == "h");
  CHECK(v.headers[0].value == std::optional<std::string_view>("v"));
  (*c)->close();
}
