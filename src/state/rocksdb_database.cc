#include <filesystem>
#include <mutex>
#include <unordered_map>

#include <algorithm>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>
#include <rocksdb/write_buffer_manager.h>

#include "state/codec.h"
#include "weir/state/database.h"

namespace weir::state {
namespace {

constexpr const char* progress_family = "weir.progress";

core::error state_error(const std::string& what, const rocksdb::Status& s) {
  return core::error{core::errc::state, what + ": " + s.ToString()};
}

// A column family of the process's RocksDB.
class rocksdb_store final : public store {
 public:
  rocksdb_store(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, std::string name,
                cache_budget& budget)
      : db_(db), cf_(cf), name_(std::move(name)), budget_(budget) {}
  const std::string& name() const noexcept override { return name_; }
  cache_budget* cache() const noexcept override { return &budget_; }
  rocksdb::ColumnFamilyHandle* family() const noexcept { return cf_; }

  core::result<std::optional<std::string>> get(std::string_view key) const override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), cf_, rocksdb::Slice(key.data(), key.size()), &v);
    if (s.IsNotFound()) return std::optional<std::string>{};
    if (!s.ok()) return state_error("reading " + name_, s);
    return std::optional<std::string>{std::move(v)};
  }

  core::status scan(
      std::string_view prefix,
      const std::function<bool(std::string_view, std::string_view)>& fn) const override {
    rocksdb::ReadOptions ro;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf_));
    for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid(); it->Next()) {
      auto k = it->key();
      if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
      auto v = it->value();
      if (!fn(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) break;
    }
    if (!it->status().ok()) return state_error("scanning " + name_, it->status());
    return {};
  }

 private:
  rocksdb::DB* db_;
  rocksdb::ColumnFamilyHandle* cf_;
  std::string name_;
  cache_budget& budget_;
};

// The process's RocksDB: one column family per store plus one for progress.
class rocksdb_database final : public database {
 public:
  ~rocksdb_database() override {
    stores_.clear();
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h);
    if (db_) db_->Close();
  }

  static core::result<std::unique_ptr<database>> open(const std::string& dir,
                                                      const rocksdb_options& limits) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
      return core::error{core::errc::state, "cannot create state dir " + dir + ": " + ec.message()};
    rocksdb::DBOptions options;
    options.create_if_missing = true;
    options.create_missing_column_families = true;
    options.max_background_jobs = 2;
    auto self = std::unique_ptr<rocksdb_database>(new rocksdb_database(limits.state_cache_bytes));
    self->cache_ = rocksdb::NewLRUCache(limits.block_cache_bytes);
    self->write_buffers_ = std::make_shared<rocksdb::WriteBufferManager>(
        std::min(limits.write_buffer_bytes, limits.block_cache_bytes), self->cache_);
    options.write_buffer_manager = self->write_buffers_;
    self->write_buffer_size_ = write_buffer_size_for(limits.write_buffer_bytes);
    std::vector<std::string> names;
    auto listed = rocksdb::DB::ListColumnFamilies(options, dir, &names);
    if (!listed.ok()) names = {rocksdb::kDefaultColumnFamilyName};
    if (std::find(names.begin(), names.end(), progress_family) == names.end()) {
      names.push_back(progress_family);
    }
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const auto& n : names) descriptors.emplace_back(n, self->family_options());
    rocksdb::DB* db = nullptr;
    auto s = rocksdb::DB::Open(options, dir, descriptors, &self->handles_, &db);
    if (!s.ok()) return state_error("opening state dir " + dir, s);
    self->db_.reset(db);
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (names[i] == progress_family) {
        self->progress_ = self->handles_[i];
      } else if (names[i] != rocksdb::kDefaultColumnFamilyName) {
        self->stores_[names[i]] =
            std::make_unique<rocksdb_store>(db, self->handles_[i], names[i], self->budget_);
      }
    }
    return std::unique_ptr<database>(std::move(self));
  }

  core::result<store*> open_store(const std::string& name) override {
    std::lock_guard lock(mu_);
    if (auto it = stores_.find(name); it != stores_.end())
      return static_cast<store*>(it->second.get());
    rocksdb::ColumnFamilyHandle* h = nullptr;
    auto s = db_->CreateColumnFamily(family_options(), name, &h);
    if (!s.ok()) return state_error("creating store " + name, s);
    handles_.push_back(h);
    auto& slot = stores_[name];
    slot = std::make_unique<rocksdb_store>(db_.get(), h, name, budget_);
    return static_cast<store*>(slot.get());
  }

  core::result<std::optional<progress>> read_progress(const partition_id& p) override {
    std::string v;
    auto s = db_->Get(rocksdb::ReadOptions(), progress_, encode_progress_key(p), &v);
    if (s.IsNotFound()) return std::optional<progress>{};
    if (!s.ok()) return state_error("reading progress", s);
    auto pr = decode_progress(v);
    if (!pr) return core::error{core::errc::state, "corrupt progress record for " + p.topic};
    return pr;
  }

  core::status write(const write_batch& batch) override {
    rocksdb::WriteBatch wb;
    for (const auto& op : batch.ops()) {
      switch (op.what) {
        case write_batch::op::kind::put:
          wb.Put(family_of(*op.target), op.key, op.value);
          break;
        case write_batch::op::kind::erase:
          wb.Delete(family_of(*op.target), op.key);
          break;
        case write_batch::op::kind::progress:
          wb.Put(progress_, op.key, op.value);
          break;
      }
    }
    rocksdb::WriteOptions wo;
    wo.sync = true;
    auto s = db_->Write(wo, &wb);
    if (!s.ok()) return state_error("writing checkpoint", s);
    return {};
  }

  core::status drop_partition(const store& st, std::string_view prefix) override {
    std::string end(prefix);
    // The smallest key after every key with `prefix`.
    while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
    if (end.empty()) return core::error{core::errc::internal, "prefix has no upper bound"};
    end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
    auto s = db_->DeleteRange(rocksdb::WriteOptions(), family_of(st),
                              rocksdb::Slice(prefix.data(), prefix.size()), end);
    if (!s.ok()) return state_error("dropping partition state", s);
    return {};
  }

  const cache_budget& cache() const noexcept override { return budget_; }

  memory_usage memory() const override {
    memory_usage m;
    m.block_cache_bytes = cache_->GetUsage();
    std::uint64_t memtables = 0;
    if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kSizeAllMemTables, &memtables)) {
      m.memtable_bytes = memtables;
    }
    return m;
  }

  size_estimate size() const override {
    size_estimate e;
    std::uint64_t v = 0;
    if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateNumKeys, &v)) e.keys = v;
    if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kEstimateLiveDataSize, &v))
      e.live_bytes = v;
    if (db_->GetAggregatedIntProperty(rocksdb::DB::Properties::kTotalSstFilesSize, &v))
      e.disk_bytes = v;
    return e;
  }

 private:
  explicit rocksdb_database(std::uint64_t state_cache_bytes) : budget_(state_cache_bytes) {}
  // Every family reads through the shared cache, with its index and filter
  // blocks charged to it too (L0's pinned: they are read on every lookup), so
  // the number of stores does not multiply memory.
  rocksdb::ColumnFamilyOptions family_options() const {
    rocksdb::ColumnFamilyOptions o;
    o.OptimizeLevelStyleCompaction(32 << 20);
    o.write_buffer_size = write_buffer_size_;
    o.max_write_buffer_number = 2;
    o.min_write_buffer_number_to_merge = 1;
    rocksdb::BlockBasedTableOptions t;
    t.block_cache = cache_;
    t.cache_index_and_filter_blocks = true;
    t.pin_l0_filter_and_index_blocks_in_cache = true;
    o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
    return o;
  }
  static rocksdb::ColumnFamilyHandle* family_of(const store& s) {
    return static_cast<const rocksdb_store&>(s).family();
  }

  std::mutex mu_;  // guards stores_ and handles_ during open_store
  // Declared before db_ so that they outlive it.
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
  std::size_t write_buffer_size_ = 0;  // per family
  cache_budget budget_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  rocksdb::ColumnFamilyHandle* progress_ = nullptr;
  std::unordered_map<std::string, std::unique_ptr<rocksdb_store>> stores_;
};

}  // namespace

std::size_t write_buffer_size_for(std::size_t write_buffer_bytes) {
  // A quarter of the budget: with two memtables per family at least two
  // families can fill theirs at once; the write-buffer manager flushes
  // before the sum of all families exceeds the budget.
  return std::clamp(write_buffer_bytes / 4, std::size_t{1} << 20, std::size_t{16} << 20);
}

core::result<std::unique_ptr<database>> open_rocksdb(const std::string& dir,
                                                     const rocksdb_options& options) {
  return rocksdb_database::open(dir, options);
}

}  // namespace weir::state
