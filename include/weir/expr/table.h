#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "weir/core/result.h"
#include "weir/core/value.h"

namespace weir::expr {

// A keyed table of rows that expressions read with `lookup("name", key)` and
// the enrich step joins against. Implemented outside expr (tables/): expr sees
// only this interface, never Kafka, files or RocksDB. `find` may be called
// from any number of threads at once while the table is being updated.
class table_view {
 public:
  virtual ~table_view() = default;
  virtual const std::string& name() const noexcept = 0;
  // The row stored under `key` (a JSON object), or nullptr when there is none.
  // The row is written to `scratch` or points at memory that stays valid
  // while the table lives; a storage failure is an error (errc::state).
  virtual core::result<const core::value*> find(std::string_view key,
                                                core::value& scratch) const = 0;
};

// The tables a pipeline declares, by name: what `lookup` calls are bound to
// when an expression is compiled. Immutable after load.
class table_catalog {
 public:
  virtual ~table_catalog() = default;
  // nullptr when no table has that name.
  virtual const table_view* find_table(std::string_view name) const noexcept = 0;
  // Names of the declared tables, comma-separated, for messages.
  virtual std::string names() const = 0;
};

// The text a value is looked up by: a string as it is, a number in its JSON
// form (`42`, `1.5`), `true`/`false`, an array or object as compact JSON;
// nullopt for null (no row has a null key). `buf` holds the text when it is
// not the string itself.
std::optional<std::string_view> table_key(const core::value& v, std::string& buf);

}  // namespace weir::expr
