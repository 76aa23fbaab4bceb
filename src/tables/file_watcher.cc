#include "tables/file_watcher.h"

#include <sys/stat.h>

#include "weir/core/log.h"

namespace weir::tables {

file_loader::file_loader(table& t, std::string pipeline, table_probe probe)
    : table_(t), pipeline_(std::move(pipeline)), probe_(probe) {}

std::optional<file_loader::signature> file_loader::stat_file() const {
  struct stat st {};
  if (::stat(table_.spec().path.c_str(), &st) != 0) return std::nullopt;
  signature s;
  s.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.size = static_cast<std::int64_t>(st.st_size);
  s.inode = static_cast<std::uint64_t>(st.st_ino);
  return s;
}

core::status file_loader::load() {
  const auto& spec = table_.spec();
  seen_ = stat_file();
  if (!seen_) {
    return core::error{core::errc::io, "table '" + spec.name + "': file " + spec.path +
                                           " does not exist or cannot be read"};
  }
  auto rows = load_file(spec);
  if (!rows)
    return core::error{rows.err().code, "table '" + spec.name + "': " + rows.err().message};
  const std::size_t n = rows->size();
  table_.replace(std::make_shared<const row_map>(std::move(*rows)));
  probe_.rows->set(static_cast<double>(n));
  core::log::info("table loaded", {{"pipeline", pipeline_},
                                   {"table", spec.name},
                                   {"file", spec.path},
                                   {"rows", std::to_string(n)}});
  return {};
}

bool file_loader::check() {
  const auto& spec = table_.spec();
  auto now = stat_file();
  if (now == seen_) return false;
  seen_ = now;
  auto fail = [&](const std::string& why) {
    probe_.reload_failures->inc();
    core::log::error("table reload failed, keeping the previous rows",
                     {{"pipeline", pipeline_},
                      {"table", spec.name},
                      {"error", why},
                      {"rows", std::to_string(table_.memory_rows())}});
    return false;
  };
  if (!now) return fail("file " + spec.path + " does not exist or cannot be read");
  auto rows = load_file(spec);
  if (!rows) return fail(rows.err().message);
  const std::size_t n = rows->size();
  table_.replace(std::make_shared<const row_map>(std::move(*rows)));
  probe_.rows->set(static_cast<double>(n));
  probe_.updates->inc();
  core::log::info("table reloaded", {{"pipeline", pipeline_},
                                     {"table", spec.name},
                                     {"file", spec.path},
                                     {"rows", std::to_string(n)}});
  return true;
}

file_watcher::file_watcher(std::vector<std::unique_ptr<file_loader>> loaders,
                           std::chrono::milliseconds interval)
    : loaders_(std::move(loaders)), interval_(interval) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!wake_.wait_for(lock, interval_, [this] { return stop_; })) {
      lock.unlock();
      for (auto& l : loaders_) l->check();
      lock.lock();
    }
  });
}

file_watcher::~file_watcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace weir::tables
