#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>

#include "tables/probe.h"
#include "weir/kafka/client.h"
#include "weir/state/database.h"
#include "weir/tables/table.h"

namespace weir::tables {

// Materialises one topic table: reads every partition of its topic without a
// consumer group, and writes each batch of rows (puts and tombstones) in one
// state batch together with the next offset of each partition, so a restart
// resumes where the stored rows end. Owns its thread and Kafka reader;
// bootstrapped() turns true once every partition was read up to the end
// offsets captured at start. Neither copyable nor movable.
class topic_reader {
 public:
  topic_reader(table& t, std::string pipeline, state::database& db, const state::store& store,
               table_probe probe);
  ~topic_reader();
  topic_reader(const topic_reader&) = delete;
  topic_reader& operator=(const topic_reader&) = delete;

  // Finds the partitions, reads the stored offsets and the end offsets,
  // assigns and starts the thread. An error here stops the process start.
  core::status start(const kafka::client_settings& kafka);
  void stop();

  bool bootstrapped() const noexcept { return bootstrapped_.load(std::memory_order_acquire); }
  // Records still to read before the end offsets captured at start.
  std::int64_t remaining() const noexcept { return remaining_.load(std::memory_order_relaxed); }
  std::optional<std::string> failure() const;
  const std::string& name() const noexcept { return table_.name(); }

 private:
  struct partition_state {
    std::int64_t next = 0;  // next offset to read
    std::int64_t end = 0;   // end offset captured at start
    bool caught_up = false;
  };
  void run();
  core::status loop();
  void apply(const core::record_view& r, state::write_batch& batch);
  core::status flush(state::write_batch& batch);
  void update_remaining();

  table& table_;
  std::string pipeline_;
  state::database& db_;
  const state::store& store_;
  table_probe probe_;
  std::unique_ptr<kafka::partition_reader> reader_;
  std::map<std::int32_t, partition_state> partitions_;  // owned by the thread once started
  // Whether a key has a row, for keys written since the last flush.
  std::unordered_map<std::string, bool> pending_;
  std::int64_t rows_ = 0;
  std::uint64_t unflushed_updates_ = 0;  // applied to the batch, not yet written
  std::atomic<bool> stop_{false};
  std::atomic<bool> bootstrapped_{false};
  std::atomic<std::int64_t> remaining_{0};
  mutable std::mutex failure_mu_;
  std::optional<std::string> failure_;
  std::thread thread_;
};

}  // namespace weir::tables
