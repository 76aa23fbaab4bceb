#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/config/diagnostics.h"
#include "weir/config/node.h"
#include "weir/core/result.h"
#include "weir/core/time.h"
#include "weir/core/value.h"
#include "weir/expr/expression.h"

namespace weir::ops {

// The running state of one aggregate in one window (or pane, or session).
// Mergeable, so that panes combine into hopping windows and sessions merge.
// Owned by the window that holds it; touched by one task's thread only.
class accumulator {
 public:
  virtual ~accumulator() = default;
  // Adds one record's argument (`null` for argument-less aggregates such as
  // count()) with the record's event time.
  virtual void add(const core::value& arg, core::millis time) = 0;
  // Folds `other` (of the same aggregate) into this one.
  virtual void merge(const accumulator& other) = 0;
  // The aggregate's value as it goes into a result.
  virtual core::value result() const = 0;
  // Compact binary form for the state store; decode reads what encode wrote
  // and advances `in` past it, returning false on malformed bytes (then the
  // accumulator and `in` are unchanged).
  virtual void encode(std::string& out) const = 0;
  virtual bool decode(std::string_view& in) = 0;
};

// One `name: function(args)` entry of a window's `aggregate:` map, compiled.
// Immutable after load; shared by every task.
class aggregate {
 public:
  virtual ~aggregate() = default;
  const std::string& name() const noexcept { return name_; }
  // The expression whose value is added per record; nullopt for count().
  const std::optional<expr::expression>& argument() const noexcept { return argument_; }
  // Checks a record's argument before any state changes: a wrong type is a
  // record error (errc::type_error). Null is always accepted (and skipped by
  // every aggregate but count()).
  virtual core::status check(const core::value& arg) const = 0;
  virtual std::unique_ptr<accumulator> create() const = 0;

 protected:
  aggregate(std::string name, std::optional<expr::expression> argument)
      : name_(std::move(name)), argument_(std::move(argument)) {}

 private:
  std::string name_;
  std::optional<expr::expression> argument_;
};

// Parses one entry of `aggregate:`; reports problems at their position.
std::unique_ptr<aggregate> parse_aggregate(const config::node::entry& entry,
                                           config::diagnostics& diag);

}  // namespace weir::ops
