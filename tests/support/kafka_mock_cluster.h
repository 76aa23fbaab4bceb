#pragma once

#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <cstdint>
#include <string>
#include <vector>

namespace weir::test {

// A cluster inside librdkafka (no network broker; one broker unless told),
// owned by a client handle of its own. For unit tests with injected faults;
// not thread-safe.
class kafka_mock_cluster {
 public:
  explicit kafka_mock_cluster(int brokers = 1) {
    char err[256];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, rd_kafka_conf_new(), err, sizeof err);
    REQUIRE(rk_);
    cluster_ = rd_kafka_mock_cluster_new(rk_, brokers);
    REQUIRE(cluster_);
  }
  ~kafka_mock_cluster() {
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(rk_);
  }
  kafka_mock_cluster(const kafka_mock_cluster&) = delete;
  kafka_mock_cluster& operator=(const kafka_mock_cluster&) = delete;

  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void create_topic(const std::string& name, int partitions) {
    REQUIRE(rd_kafka_mock_topic_create(cluster_, name.c_str(), partitions, 1) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  // The next requests with Kafka protocol API key `api_key` fail with
  // `errors`, one each, in order.
  void fail_requests(std::int16_t api_key, std::vector<rd_kafka_resp_err_t> errors) {
    rd_kafka_mock_push_request_errors_array(cluster_, api_key, errors.size(), errors.data());
  }
  // Broker ids count from 1.
  void set_leader(const std::string& topic, int partition, int broker) {
    REQUIRE(rd_kafka_mock_partition_set_leader(cluster_, topic.c_str(), partition, broker) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  // The next `count` requests with API key `api_key` that `broker` serves
  // fail with `error`, each answered after `rtt_ms`.
  void fail_broker_requests(int broker, std::int16_t api_key, int count, rd_kafka_resp_err_t error,
                            int rtt_ms) {
    for (int i = 0; i < count; ++i) {
      REQUIRE(rd_kafka_mock_broker_push_request_error_rtts(cluster_, broker, api_key, 1, error,
                                                           rtt_ms) == RD_KAFKA_RESP_ERR_NO_ERROR);
    }
  }
  // `type`: "group" or "transaction".
  void set_coordinator(const std::string& type, const std::string& key, int broker) {
    REQUIRE(rd_kafka_mock_coordinator_set(cluster_, type.c_str(), key.c_str(), broker) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

}  // namespace weir::test
