#include "weir/tables/table_set.h"

#include "tables/file_watcher.h"
#include "tables/topic_reader.h"

namespace weir::tables {

table_set::table_set(const std::vector<config::table_spec>& specs) {
  for (const auto& s : specs) tables_.push_back(std::make_unique<table>(s));
}

table_set::~table_set() {
  stop();
}

const expr::table_view* table_set::find_table(std::string_view name) const noexcept {
  for (const auto& t : tables_) {
    if (t->name() == name) return t.get();
  }
  return nullptr;
}

table* table_set::get(std::string_view name) noexcept {
  for (const auto& t : tables_) {
    if (t->name() == name) return t.get();
  }
  return nullptr;
}

std::string table_set::names() const {
  std::string out;
  for (const auto& t : tables_) out += (out.empty() ? "" : ", ") + t->name();
  return out;
}

void table_set::clear() {
  for (auto& t : tables_) t->replace(std::make_shared<const row_map>());
}

core::status table_set::start(const run_settings& s) {
  std::vector<std::unique_ptr<file_loader>> loaders;
  for (auto& t : tables_) {
    auto probe = table_probe::make(*s.metrics, s.pipeline, t->name());
    if (t->spec().source == config::table_source::file) {
      auto loader = std::make_unique<file_loader>(*t, s.pipeline, probe);
      if (auto st = loader->load(); !st) return st;
      loaders.push_back(std::move(loader));
      continue;
    }
    // One store per topic table; its offsets are progress records under
    // the store's name, written in the same batches as its rows.
    auto store = s.db->open_store(s.pipeline + ".table." + t->name());
    if (!store) return std::move(store).err();
    t->bind(*store);
    auto reader = std::make_unique<topic_reader>(*t, s.pipeline, *s.db, **store, probe);
    if (auto st = reader->start(s.kafka); !st) return st;
    readers_.push_back(std::move(reader));
  }
  if (!loaders.empty()) {
    watcher_ = std::make_unique<file_watcher>(std::move(loaders), s.file_poll_interval);
  }
  return {};
}

std::string table_set::bootstrapping() const {
  std::string out;
  for (const auto& r : readers_) {
    if (r->bootstrapped()) continue;
    out += (out.empty() ? "bootstrapping table " : ", ") + r->name() + " (" +
           std::to_string(r->remaining()) + " records left)";
  }
  return out;
}

std::optional<std::string> table_set::failure() const {
  for (const auto& r : readers_) {
    if (auto f = r->failure()) return f;
  }
  return std::nullopt;
}

void table_set::stop() {
  watcher_.reset();
  for (auto& r : readers_) r->stop();
}

}  // namespace weir::tables
