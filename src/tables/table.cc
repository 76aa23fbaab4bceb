#include "weir/tables/table.h"

#include "weir/core/json.h"

namespace weir::tables {

table::table(config::table_spec spec)
    : spec_(std::move(spec)), rows_(std::make_shared<const row_map>()) {}

core::result<const core::value*> table::find(std::string_view key, core::value& scratch) const {
  if (const state::store* s = store_.load(std::memory_order_acquire)) {
    auto bytes = s->get(key);
    if (!bytes) return std::move(bytes).err();
    if (!*bytes) return static_cast<const core::value*>(nullptr);
    // The reader stores only rows that parsed as objects.
    auto row = core::parse_json(**bytes);
    if (!row) {
      return core::error{core::errc::state, "table '" + spec_.name +
                                                "': stored row is not JSON: " + row.err().message};
    }
    scratch = std::move(*row);
    return &scratch;
  }
  // Heterogeneous lookup needs C++20 transparent hashing; a short key
  // string is cheap next to copying the row.
  const auto rows = rows_.load(std::memory_order_acquire);
  auto it = rows->find(std::string(key));
  if (it == rows->end()) return static_cast<const core::value*>(nullptr);
  scratch = it->second;
  return &scratch;
}

void table::replace(std::shared_ptr<const row_map> rows) {
  rows_.store(std::move(rows), std::memory_order_release);
}

void table::put(const std::string& key, const core::value* row) {
  auto next = std::make_shared<row_map>(*rows_.load(std::memory_order_acquire));
  if (row)
    (*next)[key] = *row;
  else
    next->erase(key);
  replace(std::move(next));
}

std::size_t table::memory_rows() const {
  return rows_.load(std::memory_order_acquire)->size();
}

}  // namespace weir::tables
