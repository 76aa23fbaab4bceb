#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace weir::metrics {

using labels = std::vector<std::pair<std::string, std::string>>;

// Monotonic counter. Written by one owner thread on the hot path (relaxed
// atomics, no locks), read by the scrape thread.
class counter {
 public:
  void inc(std::uint64_t n = 1) noexcept { v_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// A value that goes up and down. Set or added to from any thread without
// locks (add is a CAS loop), read by the scrape thread.
class gauge {
 public:
  void set(double v) noexcept { v_.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept;
  double value() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Histogram with fixed bucket upper bounds (seconds for durations). Observed
// from any thread without locks, read by the scrape thread. Invariant: bounds
// strictly ascending; counts are stored per bucket and summed up on read.
class histogram {
 public:
  explicit histogram(std::vector<double> bounds);
  void observe(double v) noexcept;
  struct snapshot {
    std::vector<double> bounds;
    std::vector<std::uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    std::uint64_t count = 0;
  };
  snapshot read() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // bounds_.size() + 1
  std::atomic<double> sum_{0};
};

// Default duration buckets, in seconds, from 1 ms to 60 s.
std::vector<double> duration_buckets();

// Owns every metric of the process. Registration takes a lock and returns a
// reference that stays valid for the registry's life; updates are lock-free.
// Registering the same name and labels twice returns the same metric.
class registry {
 public:
  registry();
  ~registry();  // out of line: `family` is complete only in registry.cc
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  counter& add_counter(const std::string& name, const std::string& help, labels l = {});
  gauge& add_gauge(const std::string& name, const std::string& help, labels l = {});
  histogram& add_histogram(const std::string& name, const std::string& help, labels l,
                           std::vector<double> bounds);
  // A gauge computed at scrape time (process memory, RocksDB properties).
  // `read` runs on the scrape thread under the registry lock, so it must not
  // call into the registry; it must stay callable for the registry's life.
  // Registering the same name and labels again replaces `read`.
  void add_callback_gauge(const std::string& name, const std::string& help, labels l,
                          std::function<double()> read);
  // The same for a monotonic value kept elsewhere (process CPU seconds).
  void add_callback_counter(const std::string& name, const std::string& help, labels l,
                            std::function<double()> read);

  // Prometheus text exposition format 0.0.4 of every metric.
  std::string render() const;

 private:
  struct family;
  family& family_for(const std::string& name, const std::string& help, int kind);
  mutable std::mutex mu_;
  std::deque<std::unique_ptr<family>> families_;
};

// Adds process_resident_memory_bytes, process_virtual_memory_bytes,
// process_cpu_seconds_total, process_start_time_seconds, process_open_fds,
// process_max_fds and weir_build_info{version} (Linux /proc).
void add_process_metrics(registry& r, const std::string& version);

}  // namespace weir::metrics
