#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <chrono>
#include <memory>
#include <string>

#include "weir/kafka/client.h"

using namespace weir;
using namespace weir::kafka;

namespace {
// A one-broker cluster inside librdkafka (no network broker), owned by a
// client handle of its own.
class mock_cluster {
 public:
  mock_cluster() {
    char err[256];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
    REQUIRE(rk_);
    cluster_ = rd_kafka_mock_cluster_new(rk_, 1);
    REQUIRE(cluster_);
  }
  ~mock_cluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(rk_);
  }
  mock_cluster(const mock_cluster&) = delete;
  mock_cluster& operator=(const mock_cluster&) = delete;
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void create_topic(const std::string& name, int partitions) {
    REQUIRE(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};
}  // namespace

TEST_CASE("a consumed record's view names its topic, partition, offset, key, value and headers") {
  mock_cluster cluster;
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
