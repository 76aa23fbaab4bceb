#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::core {

struct header_view {
  std::string_view key;
  std::optional<std::string_view> value;
};

// A consumed Kafka record, as views into the client library's message. Valid
// only while the message it was read from is alive (one pass through a task).
struct record_view {
  std::string_view topic;
  std::int32_t partition = 0;
  std::int64_t offset = 0;
  std::int64_t timestamp_ms = 0;  // the Kafka record timestamp
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  std::vector<header_view> headers;
};

struct header {
  std::string key;
  std::optional<std::string> value;
};

// A record to produce. Owns its bytes.
struct output_record {
  std::string topic;
  // nullopt: the producer's partitioner picks one (by key).
  std::optional<std::int32_t> partition;
  std::optional<std::string> key;
  std::string value;
  std::int64_t timestamp_ms = 0;
  std::vector<header> headers;
};

}  // namespace weir::core
