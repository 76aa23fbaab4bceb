#include <map>
#include <mutex>
#include <unordered_map>

#include "state/codec.h"
#include "weir/state/database.h"

namespace weir::state {
namespace {

// An ordered map per store; the same contract as the RocksDB database, for
// `weir test` and unit tests. A single mutex: not for throughput.
class memory_store final : public store {
 public:
  memory_store(std::string name, std::mutex& mu, cache_budget& budget)
      : name_(std::move(name)), mu_(mu), budget_(budget) {}
  const std::string& name() const noexcept override { return name_; }
  cache_budget* cache() const noexcept override { return &budget_; }
  core::result<std::optional<std::string>> get(std::string_view key) const override {
    std::lock_guard lock(mu_);
    auto it = data_.find(std::string(key));
    if (it == data_.end()) return std::optional<std::string>{};
    return std::optional<std::string>{it->second};
  }
  core::status scan(
      std::string_view prefix,
      const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    std::vector<std::pair<std::string, std::string>> copy;
    {
      std::lock_guard lock(mu_);
      for (auto it = data_.lower_bound(std::string(prefix));
           it != data_.end() && std::string_view(it->first).starts_with(prefix); ++it) {
        copy.emplace_back(*it);
      }
    }
    for (const auto& [k, v] : copy) {
      if (!fn(k, v)) break;
    }
    return {};
  }
  std::map<std::string, std::string> data_;  // guarded by mu_

 private:
  std::string name_;
  std::mutex& mu_;
  cache_budget& budget_;
};

class memory_database final : public database {
 public:
  explicit memory_database(std::uint64_t state_cache_bytes) : budget_(state_cache_bytes) {}
  const cache_budget& cache() const noexcept override { return budget_; }
  core::result<store*> open_store(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto& slot = stores_[name];
    if (!slot) slot = std::make_unique<memory_store>(name, mu_, budget_);
    return static_cast<store*>(slot.get());
  }
  core::result<std::optional<progress>> read_progress(const partition_id& p) override {
    std::lock_guard lock(mu_);
    auto it = progress_.find(encode_progress_key(p));
    if (it == progress_.end()) return std::optional<progress>{};
    return decode_progress(it->second);
  }
  core::status write(const write_batch& batch) override {
    std::lock_guard lock(mu_);
    for (const auto& op : batch.ops()) {
      switch (op.what) {
        case write_batch::op::kind::put:
          mutable_store(*op.target).data_[op.key] = op.value;
          break;
        case write_batch::op::kind::erase:
          mutable_store(*op.target).data_.erase(op.key);
          break;
        case write_batch::op::kind::progress:
          progress_[op.key] = op.value;
          break;
      }
    }
    return {};
  }
  core::status drop_partition(const store& s, std::string_view prefix) override {
    std::lock_guard lock(mu_);
    auto& data = mutable_store(s).data_;
    for (auto it = data.lower_bound(std::string(prefix));
         it != data.end() && std::string_view(it->first).starts_with(prefix);) {
      it = data.erase(it);
    }
    return {};
  }

 private:
  memory_store& mutable_store(const store& s) { return *stores_.at(s.name()); }
  cache_budget budget_;
  std::mutex mu_;
  std::unordered_map<std::string, std::unique_ptr<memory_store>> stores_;
  std::map<std::string, std::string> progress_;
};

}  // namespace

std::unique_ptr<database> open_memory(std::uint64_t state_cache_bytes) {
  return std::make_unique<memory_database>(state_cache_bytes);
}

}  // namespace weir::state
