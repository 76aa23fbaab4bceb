#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "support/kafka_mock_cluster.h"
#include "weir/kafka/client.h"

using namespace weir;
using namespace weir::kafka;

using test::kafka_mock_cluster;

namespace {
// Kafka protocol API key of ListOffsets, the request behind a partition's
// low and high offsets.
constexpr std::int16_t list_offsets = 2;
}  // namespace

TEST_CASE("a partition's offsets are asked again while its leader is not ready") {
  // A topic created a moment ago (a changelog weir just made) can be
  // answered by a broker that does not lead it yet.
  kafka_mock_cluster cluster;
  cluster.create_topic("changelog", 1);
  client_settings s;
  s.bootstrap_servers = cluster.bootstraps();
  s.client_id = "partition-reader-test";
  auto r = make_partition_reader(s);
  REQUIRE(r);
  const std::vector<topic_partition> tps{{"changelog", 0}};

  cluster.fail_requests(list_offsets, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                       RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE});
  auto b = (*r)->bounds(tps, std::chrono::seconds(10));
  REQUIRE(b);
  REQUIRE(b->size() == 1);
  CHECK((*b)[0].low == 0);
  CHECK((*b)[0].high == 0);

  cluster.fail_requests(list_offsets, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION});
  auto e = (*r)->bounds(tps, std::chrono::seconds(10));
  REQUIRE(e);
  REQUIRE(e->size() == 1);
  CHECK((*e)[0].high == 0);
}
