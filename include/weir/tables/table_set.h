#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/config/pipeline.h"
#include "weir/expr/table.h"
#include "weir/kafka/client.h"
#include "weir/metrics/registry.h"
#include "weir/state/database.h"
#include "weir/tables/table.h"

namespace weir::tables {

class topic_reader;
class file_watcher;

// What `weir run` gives the tables of one pipeline.
struct run_settings {
  std::string pipeline;
  state::database* db = nullptr;
  kafka::client_settings kafka;
  metrics::registry* metrics = nullptr;
  // How often file tables check their file for changes.
  std::chrono::milliseconds file_poll_interval{1000};
};

// The tables of one pipeline: the catalog its expressions and enrich steps
// are bound to when they compile (always), and, once started by `weir run`,
// the threads that fill them: one reader per topic table and one watcher for
// every file table. Created before the steps and destroyed after them;
// neither copyable nor movable. `find_table` and `bootstrapping` are safe
// from any thread; start and stop belong to the thread that runs the
// pipeline.
class table_set final : public expr::table_catalog {
 public:
  explicit table_set(const std::vector<config::table_spec>& specs);
  ~table_set() override;
  table_set(const table_set&) = delete;
  table_set& operator=(const table_set&) = delete;

  const expr::table_view* find_table(std::string_view name) const noexcept override;
  std::string names() const override;
  table* get(std::string_view name) noexcept;
  bool empty() const noexcept { return tables_.empty(); }

  // `weir test`: every table empty again, in memory.
  void clear();

  // `weir run`: loads every file table (a file that cannot be read or parsed
  // is an error), binds each topic table to its store and starts its reader
  // from the stored offsets, and starts watching the files.
  core::status start(const run_settings& s);
  // Empty once every topic table has read its topic up to the end offsets
  // captured at start; otherwise what is still being read, for /readyz.
  std::string bootstrapping() const;
  // Why a reader stopped for good (the process must stop), or nullopt.
  std::optional<std::string> failure() const;
  // Stops the threads; also done by the destructor.
  void stop();

 private:
  std::vector<std::unique_ptr<table>> tables_;
  std::vector<std::unique_ptr<topic_reader>> readers_;
  std::unique_ptr<file_watcher> watcher_;
};

}  // namespace weir::tables
