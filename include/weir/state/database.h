#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/core/result.h"
#include "weir/core/time.h"

namespace weir::state {

// Where a task stands in its input partition: the next offset to read and the
// partition's watermark, written in the same batch as the state they match.
struct progress {
  std::int64_t next_offset = 0;
  core::millis watermark = core::min_time;
};

// Identifies the progress record of one input partition of one pipeline.
struct partition_id {
  std::string pipeline;
  std::string topic;
  std::int32_t partition = 0;
};

// The share of the process's memory budget (--memory-limit) that steps may
// hold as in-memory state: the write-back caches in front of their stores.
// One per database, shared by every cache of the process; thread-safe. A
// cache joins while it exists and keeps within an equal share, limit /
// caches, by evicting clean entries (they are in the store) beyond it.
class cache_budget {
 public:
  explicit cache_budget(std::uint64_t limit_bytes = 0) noexcept : limit_(limit_bytes) {}
  cache_budget(const cache_budget&) = delete;
  cache_budget& operator=(const cache_budget&) = delete;
  // 0: no bound; caches keep all their state in memory.
  std::uint64_t limit() const noexcept { return limit_; }
  bool bounded() const noexcept { return limit_ != 0; }
  void join() noexcept { caches_.fetch_add(1, std::memory_order_relaxed); }
  void leave() noexcept { caches_.fetch_sub(1, std::memory_order_relaxed); }
  // The bytes one cache may hold now.
  std::uint64_t share() const noexcept {
    return limit_ / std::max<std::uint64_t>(caches_.load(std::memory_order_relaxed), 1);
  }
  // The caches' estimates of the bytes they hold, together (for a gauge).
  void add_used(std::int64_t delta) noexcept { used_.fetch_add(delta, std::memory_order_relaxed); }
  std::int64_t used() const noexcept { return used_.load(std::memory_order_relaxed); }

 private:
  const std::uint64_t limit_;
  std::atomic<std::uint64_t> caches_{0};
  std::atomic<std::int64_t> used_{0};
};

// One key-value store (a step's state). Keys of one input partition share a
// prefix (see partition_prefix) so a partition's state can be read or dropped
// alone. Reads are thread-safe; writes go through write_batch.
class store {
 public:
  virtual ~store() = default;
  virtual const std::string& name() const noexcept = 0;
  virtual core::result<std::optional<std::string>> get(std::string_view key) const = 0;
  // Calls `fn` for each entry whose key starts with `prefix`, in key order;
  // stops early when `fn` returns false.
  virtual core::status scan(
      std::string_view prefix,
      const std::function<bool(std::string_view key, std::string_view value)>& fn) const = 0;
  // The budget of the in-memory caches of this store's users: its
  // database's. Null for a store without one (no bound).
  virtual cache_budget* cache() const noexcept { return nullptr; }
};

// The changes of one checkpoint, applied atomically by database::write.
// Built by one task on its own thread.
class write_batch {
 public:
  void put(const store& s, std::string_view key, std::string_view value);
  void erase(const store& s, std::string_view key);
  void put_progress(const partition_id& p, const progress& pr);
  std::size_t size() const noexcept { return ops_.size(); }
  bool empty() const noexcept { return ops_.empty(); }

  struct op {
    enum class kind : std::uint8_t { put, erase, progress } what;
    const store* target;  // null for progress
    std::string key;
    std::string value;
  };
  const std::vector<op>& ops() const noexcept { return ops_; }

 private:
  std::vector<op> ops_;
};

// The state of one process: every store and the progress records. Shared by
// all worker threads; every method is thread-safe.
class database {
 public:
  virtual ~database() = default;
  // Opens (creating if needed) the store named `name`. The pointer lives as
  // long as the database.
  virtual core::result<store*> open_store(const std::string& name) = 0;
  virtual core::result<std::optional<progress>> read_progress(const partition_id& p) = 0;
  // Applies the batch atomically and durably (synced write-ahead log).
  virtual core::status write(const write_batch& batch) = 0;
  // Removes every key with `prefix` from `s` and the partition's progress
  // (a partition whose state must start afresh).
  virtual core::status drop_partition(const store& s, std::string_view prefix) = 0;

  // Bytes the storage engine holds in memory now, for the process's gauges.
  struct memory_usage {
    // The shared block cache, including the memtable reservations charged
    // to it.
    std::uint64_t block_cache_bytes = 0;
    // Every store's memtables (active and immutable, not yet flushed).
    std::uint64_t memtable_bytes = 0;
  };
  // Callable from any thread; an in-memory database reports zeros.
  virtual memory_usage memory() const { return {}; }

  // Size of the stored state, every store together, for the process's gauges.
  struct size_estimate {
    std::uint64_t keys = 0;        // the engine's estimate of live keys
    std::uint64_t live_bytes = 0;  // its estimate of the bytes of live data
    std::uint64_t disk_bytes = 0;  // files on disk holding the state
  };
  // Callable from any thread; an in-memory database reports zeros.
  virtual size_estimate size() const { return {}; }

  // The budget of the steps' in-memory state, shared by every store.
  virtual const cache_budget& cache() const noexcept = 0;
};

// Memory bounds of the RocksDB database: one LRU block cache shared by every
// store (data, index and filter blocks), and one write-buffer manager, charged
// to that cache, bounding the memtables of every store together.
struct rocksdb_options {
  // Capacity of the shared block cache. Memtables are charged to it, so this
  // is the bound of the engine's cache and memtables together (RocksDB may
  // overshoot it briefly: the limit is not strict).
  std::size_t block_cache_bytes = std::size_t{128} << 20;
  // Bytes all memtables together may hold before the largest is flushed;
  // at most block_cache_bytes.
  std::size_t write_buffer_bytes = std::size_t{64} << 20;
  // The steps' in-memory state (cache_budget); 0: not bounded.
  std::uint64_t state_cache_bytes = 0;
};

// The per-store memtable size for a write-buffer budget: small enough that
// many stores fit in the budget, large enough to keep flushes efficient
// (between 1 MiB and 16 MiB).
std::size_t write_buffer_size_for(std::size_t write_buffer_bytes);

// RocksDB under `dir`: one column family per store, WAL on, memory bounded
// by `options`.
core::result<std::unique_ptr<database>> open_rocksdb(const std::string& dir,
                                                     const rocksdb_options& options = {});
// In memory, for `weir test` and unit tests; `state_cache_bytes` bounds the
// steps' in-memory state as with RocksDB (0: no bound).
std::unique_ptr<database> open_memory(std::uint64_t state_cache_bytes = 0);

// Key prefix of an input partition's entries in every store.
std::string partition_prefix(std::int32_t partition);

// Fixed-width big-endian encodings that sort like the numbers they encode.
void append_u32(std::string& out, std::uint32_t v);
void append_i64_ordered(std::string& out, std::int64_t v);
std::int64_t read_i64_ordered(std::string_view in);

}  // namespace weir::state
