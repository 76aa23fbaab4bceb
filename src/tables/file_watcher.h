#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tables/probe.h"
#include "weir/tables/table.h"

namespace weir::tables {

// Keeps one file table in step with its file: `load` reads it at start;
// `check` reloads it when its modification time, size or inode changed,
// building the new rows before swapping them in. A reload that fails keeps
// the old rows, logs the problem (FILE:LINE: message) and is counted; the
// same broken file is not read again until it changes. Used by one thread at
// a time.
class file_loader {
 public:
  file_loader(table& t, std::string pipeline, table_probe probe);
  core::status load();
  // True when the rows were replaced.
  bool check();

 private:
  struct signature {
    std::int64_t mtime_ns = 0;
    std::int64_t size = 0;
    std::uint64_t inode = 0;
    friend bool operator==(const signature&, const signature&) = default;
  };
  std::optional<signature> stat_file() const;

  table& table_;
  std::string pipeline_;
  table_probe probe_;
  std::optional<signature> seen_;  // of the file last read, loaded or not
};

// Checks every file table of a pipeline on its own thread, every interval.
// Neither copyable nor movable; the destructor stops the thread.
class file_watcher {
 public:
  file_watcher(std::vector<std::unique_ptr<file_loader>> loaders,
               std::chrono::milliseconds interval);
  ~file_watcher();
  file_watcher(const file_watcher&) = delete;
  file_watcher& operator=(const file_watcher&) = delete;

 private:
  std::vector<std::unique_ptr<file_loader>> loaders_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace weir::tables
