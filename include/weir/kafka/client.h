#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/core/record.h"
#include "weir/core/result.h"

namespace weir::kafka {

// Bounds of a client's local queues, the Kafka client's share of the
// process memory. Each becomes a librdkafka property (see
// memory_properties); a passthrough property of the same name wins. The
// defaults, without --memory-limit, are queue_limits_for(128 MiB).
struct queue_limits {
  // Consumer: pre-fetched messages waiting in the consumer's queue
  // (queued.max.messages.kbytes). One fetch response may overshoot it.
  std::size_t consumer_queue_bytes = std::size_t{64} << 20;
  // Consumer: one fetch response (fetch.max.bytes) and one partition's part
  // of it (max.partition.fetch.bytes).
  std::size_t fetch_bytes = std::size_t{16} << 20;
  std::size_t partition_fetch_bytes = std::size_t{1} << 20;
  // Producer: records queued for delivery (queue.buffering.max.kbytes); a
  // full queue makes produce wait.
  std::size_t producer_queue_bytes = std::size_t{64} << 20;
  // The same queues counted in messages (queued.min.messages,
  // queue.buffering.max.messages): librdkafka counts only keys and values
  // against the byte limits, while each small message also holds some
  // hundred bytes of its own structures and its share of the fetch buffer,
  // so small records would otherwise fill many times the bytes above.
  // librdkafka 2.0.2 stops fetching a partition for a whole second when the
  // consumer's queue passes either limit, so a queue that holds less than a
  // second of records caps the rate (a small --memory-limit trades speed
  // for memory this way).
  std::size_t consumer_queue_messages = 100000;
  std::size_t producer_queue_messages = 100000;
};

// Queue limits for one worker (a consumer and a producer) given `bytes` of
// memory: half for each queue, a quarter of the consumer's half for one
// fetch. Floors keep a tiny budget workable (one fetch must hold at least one
// maximal record: message.max.bytes is 1 MB by default); each queue is capped
// at 1 GiB.
queue_limits queue_limits_for(std::size_t bytes);

// The librdkafka properties for `limits`, for a consumer or a producer.
std::vector<std::pair<std::string, std::string>> memory_properties(const queue_limits& limits,
                                                                   bool consumer);

// Settings every client of a worker shares.
struct client_settings {
  std::string bootstrap_servers = "localhost:9092";
  std::string client_id = "weir";
  // librdkafka properties passed through as given (SASL, SSL, tuning).
  std::vector<std::pair<std::string, std::string>> properties;
  // Consumers only: static group membership (group.instance.id).
  std::optional<std::string> group_instance_id;
  // Producers only: makes the producer transactional (exactly_once).
  std::optional<std::string> transactional_id;
  // Local queue bounds; `properties` override them.
  queue_limits queues;
};

struct topic_partition {
  std::string topic;
  std::int32_t partition = 0;
  friend bool operator==(const topic_partition&, const topic_partition&) = default;
  friend auto operator<=>(const topic_partition&, const topic_partition&) = default;
};

struct partition_offset {
  topic_partition tp;
  std::int64_t offset = 0;  // the next offset to read
};

// Offset sentinels: start from the group's committed offset (else the
// earliest), or from the partition's first record.
inline constexpr std::int64_t use_committed = -1001;
inline constexpr std::int64_t from_beginning = -2;
// A start that an assignment leaves open: the partition is assigned paused,
// and its owner resumes it later at the offset it decides (consumer::resume).
inline constexpr std::int64_t held = -1002;

// A consumed message; its view is valid while the message lives.
class message {
 public:
  virtual ~message() = default;
  virtual const core::record_view& view() const noexcept = 0;
};

// Partition assignment changes, delivered on the consumer's polling thread
// (inside poll), so the owner of the consumer can act on them in order.
struct rebalance_listener {
  // Newly assigned partitions; returns where to start reading each (an
  // offset, use_committed, or held).
  std::function<std::vector<partition_offset>(const std::vector<topic_partition>&)> assigned;
  // Partitions about to be taken away; the owner checkpoints them before
  // returning. `lost` is true when they were already lost (no commit possible).
  std::function<void(const std::vector<topic_partition>&, bool lost)> revoked;
  // The client library's statistics (JSON, every statistics.interval.ms);
  // may be empty.
  std::function<void(const std::string& json)> statistics;
};

// A consumer-group member. Owned and polled by one worker thread; neither
// copyable nor movable. Offsets are never auto-committed.
class consumer {
 public:
  virtual ~consumer() = default;
  virtual core::status subscribe(const std::vector<std::string>& topics) = 0;
  // Waits up to `timeout` for a message. Rebalance callbacks run inside.
  // Returns nullptr on timeout or end of partition; transient client errors
  // are logged and retried by the library.
  virtual core::result<std::unique_ptr<message>> poll(std::chrono::milliseconds timeout) = 0;
  // The group's committed offsets of `tps` (use_committed where none).
  virtual core::result<std::vector<partition_offset>> committed(
      const std::vector<topic_partition>& tps) = 0;
  // Commits `offsets` to the group without waiting for the answer (a
  // failure is logged): the local checkpoint is what a restart trusts, and a
  // commit during a rebalance must not hold the worker up.
  virtual core::status commit(const std::vector<partition_offset>& offsets) = 0;
  // Starts fetching partitions assigned `held`, each from its offset (or
  // use_committed).
  virtual core::status resume(const std::vector<partition_offset>& starts) = 0;
  // Leaves the group (revoking every partition through the listener).
  virtual void close() = 0;
};

core::result<std::unique_ptr<consumer>> make_consumer(const client_settings& s,
                                                      const std::string& group_id,
                                                      rebalance_listener listener);

// Reads partitions chosen by its owner, without a consumer group: how table
// topics are read in full by every process. Offsets are never committed (the
// owner keeps its own). Owned and polled by one thread; neither copyable nor
// movable.
class partition_reader {
 public:
  virtual ~partition_reader() = default;
  // Starts reading each partition at its offset (or from_beginning).
  virtual core::status assign(const std::vector<partition_offset>& starts) = 0;
  // The first and the end offset (high watermark) of each partition, from
  // the broker.
  struct partition_bounds {
    topic_partition tp;
    std::int64_t low = 0;
    std::int64_t high = 0;
  };
  virtual core::result<std::vector<partition_bounds>> bounds(
      const std::vector<topic_partition>& tps, std::chrono::milliseconds timeout) = 0;
  // What one poll found: a record, the end of a partition reached (the
  // record field is then null), or neither after the timeout.
  struct item {
    std::unique_ptr<message> record;
    std::optional<topic_partition> end_of_partition;
  };
  virtual core::result<item> poll(std::chrono::milliseconds timeout) = 0;
};

core::result<std::unique_ptr<partition_reader>> make_partition_reader(const client_settings& s);

// A producer with its delivery reports. Owned by one worker thread.
class producer {
 public:
  virtual ~producer() = default;
  // Queues a record; waits (serving delivery reports) while the local queue
  // is full, so a slow broker slows the worker rather than failing it.
  virtual core::status produce(core::output_record&& r) = 0;
  // Queues a record for one partition of `topic`; no value makes it a
  // tombstone (deletes the key from a compacted topic).
  virtual core::status produce_to(const std::string& topic, std::int32_t partition,
                                  std::string_view key, std::optional<std::string_view> value) = 0;
  // Waits until every queued record is delivered. A broker outage is waited
  // out (records never expire) unless `limit` is given, after which it is an
  // error; a permanent delivery failure (such as a missing topic or a
  // too-large record) is an error.
  virtual core::status flush(std::optional<std::chrono::milliseconds> limit = std::nullopt) = 0;
  // Serves delivery reports without blocking.
  virtual void poll() = 0;
  // Deletes the records of each partition before its offset (the
  // DeleteRecords admin request), waiting at most `timeout`.
  virtual core::status delete_records(const std::vector<partition_offset>& before,
                                      std::chrono::milliseconds timeout) = 0;

  // Transactions (only with client_settings::transactional_id; the producer
  // is initialised for them by make_producer). begin_transaction opens one
  // if none is open.
  virtual core::status begin_transaction() = 0;
  virtual bool in_transaction() const noexcept = 0;
  // Adds the consumer's `offsets` to the open transaction and commits it
  // (KIP-447), opening one first if needed. An abortable failure aborts the
  // transaction and returns errc::aborted: the producer can go on, and the
  // caller redoes the interval from its last checkpoint. Other failures
  // (fenced, fatal) are returned as errc::kafka.
  virtual core::status commit_transaction(const std::vector<partition_offset>& offsets,
                                          consumer& c) = 0;
  // Aborts the open transaction, if any (what it produced is never read by
  // read_committed consumers). A failure is fatal for the producer.
  virtual core::status abort_transaction() = 0;
};

core::result<std::unique_ptr<producer>> make_producer(const client_settings& s);

// A topic weir needs, with its partition count and topic configuration.
struct topic_spec {
  std::string name;
  int partitions = 1;
  std::vector<std::pair<std::string, std::string>> config;
  // Settings a topic that exists already must have too, or weir refuses to
  // start (a changelog that time-based retention empties loses state).
  std::vector<std::pair<std::string, std::string>> required;
  // ACL operations weir's principal needs on the topic (Read, Write, …):
  // named when the topic must be created by someone else.
  std::vector<std::string> operations;
};

// Creates each topic of `topics` that does not exist (replication factor:
// the broker's default) and checks the partition count and `required`
// settings of those that do (settings only when the principal may describe
// them; otherwise a warning says they were not checked). Errors name the
// topics and what is wrong; when the principal may not create topics, the
// error names the topics and settings to create by hand.
core::status ensure_topics(const client_settings& s, const std::vector<topic_spec>& topics,
                           std::chrono::milliseconds timeout);

// Partition count of `topic`, from the cluster metadata.
core::result<int> partition_count(const client_settings& s, const std::string& topic,
                                  std::chrono::milliseconds timeout);

}  // namespace weir::kafka
