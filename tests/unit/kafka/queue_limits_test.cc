#include <catch2/catch.hpp>

#include <algorithm>

#include "weir/kafka/client.h"

using namespace weir::kafka;

namespace {
constexpr std::size_t mib = std::size_t{1} << 20;

std::string property(const std::vector<std::pair<std::string, std::string>>& props,
                     const std::string& key) {
  auto it = std::find_if(props.begin(), props.end(), [&](const auto& p) { return p.first == key; });
  return it == props.end() ? std::string{} : it->second;
}
}  // namespace

TEST_CASE("queue limits split a worker's share between consumer and producer") {
  auto q = queue_limits_for(64 * mib);
  CHECK(q.consumer_queue_bytes == 32 * mib);
  CHECK(q.producer_queue_bytes == 32 * mib);
  CHECK(q.fetch_bytes == 8 * mib);
  CHECK(q.partition_fetch_bytes == 1 * mib);
  // Small records cost more than their bytes: the queues are also counted.
  CHECK(q.consumer_queue_messages == 65536);
  CHECK(q.producer_queue_messages == 65536);
}

TEST_CASE("the default queue limits are those of a 128 MiB share") {
  const queue_limits d{}, q = queue_limits_for(128 * mib);
  CHECK(d.consumer_queue_bytes == q.consumer_queue_bytes);
  CHECK(d.fetch_bytes == q.fetch_bytes);
  CHECK(d.partition_fetch_bytes == q.partition_fetch_bytes);
  CHECK(d.producer_queue_bytes == q.producer_queue_bytes);
  CHECK(d.consumer_queue_messages == q.consumer_queue_messages);
  CHECK(d.producer_queue_messages == q.producer_queue_messages);
}

TEST_CASE("queue limits keep floors for tiny shares and cap a fetch for large ones") {
  auto tiny = queue_limits_for(1 * mib);
  CHECK(tiny.consumer_queue_bytes == 2 * mib);
  CHECK(tiny.producer_queue_bytes == 2 * mib);
  CHECK(tiny.fetch_bytes == 1 * mib);  // one maximal record (message.max.bytes) fits
  auto huge = queue_limits_for(4096 * mib);
  CHECK(huge.fetch_bytes == 50 * mib);
  CHECK(huge.consumer_queue_bytes == 1024 * mib);
  CHECK(huge.producer_queue_bytes == 1024 * mib);
  CHECK(tiny.consumer_queue_messages == 4096);
  CHECK(huge.consumer_queue_messages == 100000);  // librdkafka's default
  CHECK(huge.producer_queue_messages == 100000);
}

TEST_CASE("queue limits become librdkafka properties in kilobytes or bytes") {
  auto q = queue_limits_for(64 * mib);
  auto c = memory_properties(q, true);
  CHECK(property(c, "queued.max.messages.kbytes") == "32768");
  CHECK(property(c, "fetch.max.bytes") == std::to_string(8 * mib));
  CHECK(property(c, "max.partition.fetch.bytes") == std::to_string(1 * mib));
  CHECK(property(c, "queued.min.messages") == "65536");
  CHECK(property(c, "queue.buffering.max.kbytes").empty());
  auto p = memory_properties(q, false);
  CHECK(property(p, "queue.buffering.max.kbytes") == "32768");
  CHECK(property(p, "queue.buffering.max.messages") == "65536");
  CHECK(property(p, "fetch.max.bytes").empty());
}

TEST_CASE("the client library accepts the derived limits, and passthrough properties too") {
  for (std::size_t share : {std::size_t{0}, 1 * mib, 64 * mib, 4096 * mib}) {
    client_settings s;
    s.bootstrap_servers = "127.0.0.1:1";  // never contacted
    s.queues = queue_limits_for(share);
    auto c = make_consumer(s, "g", rebalance_listener{});
    INFO("share " << share << ": " << (c.ok() ? "" : c.err().message));
    CHECK(c.ok());
    auto p = make_producer(s);
    CHECK(p.ok());
  }
  client_settings s;
  s.bootstrap_servers = "127.0.0.1:1";
  s.queues = queue_limits_for(1 * mib);
  // Passthrough properties are set after the limits (an invalid one fails).
  s.properties = {{"queue.buffering.max.kbytes", "0"}};
  CHECK_FALSE(make_producer(s).ok());
  s.properties = {{"queue.buffering.max.kbytes", "1048576"}};
  CHECK(make_producer(s).ok());
}

TEST_CASE("a passthrough property prefixed consumer. or producer. reaches only that client") {
  client_settings s;
  s.bootstrap_servers = "127.0.0.1:1";  // never contacted
  // An invalid value shows where a property was applied: that client fails.
  s.properties = {{"producer.linger.ms", "not-a-number"}};
  CHECK(make_consumer(s, "g", rebalance_listener{}).ok());
  auto p = make_producer(s);
  REQUIRE_FALSE(p.ok());
  CHECK(p.err().message.find("linger.ms") != std::string::npos);

  s.properties = {{"consumer.fetch.wait.max.ms", "not-a-number"}};
  CHECK(make_producer(s).ok());
  auto c = make_consumer(s, "g", rebalance_listener{});
  REQUIRE_FALSE(c.ok());
  CHECK(c.err().message.find("fetch.wait.max.ms") != std::string::npos);

  // Without a prefix a property goes to both.
  s.properties = {{"socket.timeout.ms", "not-a-number"}};
  CHECK_FALSE(make_consumer(s, "g", rebalance_listener{}).ok());
  CHECK_FALSE(make_producer(s).ok());
}
