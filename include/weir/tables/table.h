#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "weir/config/pipeline.h"
#include "weir/expr/table.h"
#include "weir/state/database.h"
#include "weir/tables/rows.h"

namespace weir::tables {

// One declared table as expressions and enrich steps read it. Its rows are
// either in memory (file tables, and every table under `weir test`), replaced
// as a whole by an atomic swap, or in a state store (topic tables under
// `weir run`), written by the table's reader. `find` is safe from any thread
// at any time; the writers are one loader or reader thread (or the test
// driver) at a time.
class table final : public expr::table_view {
 public:
  explicit table(config::table_spec spec);
  table(const table&) = delete;
  table& operator=(const table&) = delete;

  const std::string& name() const noexcept override { return spec_.name; }
  const config::table_spec& spec() const noexcept { return spec_; }

  // Copies the row into `scratch`: a reload may free the rows it came from.
  core::result<const core::value*> find(std::string_view key, core::value& scratch) const override;

  // In-memory rows: replaces every row at once; readers see the old rows or
  // the new ones, never a mix.
  void replace(std::shared_ptr<const row_map> rows);
  // In-memory rows: puts (or, with nullptr, removes) one row, copying the
  // rest (for `weir test`, where tables are small).
  void put(const std::string& key, const core::value* row);
  // Rows held in memory now (0 for a store-backed table).
  std::size_t memory_rows() const;

  // Reads rows from `s` from now on (topic tables under `weir run`).
  void bind(const state::store* s) noexcept { store_.store(s, std::memory_order_release); }

 private:
  const config::table_spec spec_;
  std::atomic<std::shared_ptr<const row_map>> rows_;
  std::atomic<const state::store*> store_{nullptr};
};

}  // namespace weir::tables
