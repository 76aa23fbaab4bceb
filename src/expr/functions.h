#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "expr/node.h"
#include "expr/types.h"
#include "weir/core/result.h"
#include "weir/core/value.h"
#include "weir/expr/table.h"

namespace weir::expr {

constexpr std::size_t unlimited_args = std::numeric_limits<std::size_t>::max();

struct function_def;

// What a build hook may bind a call to at compile time: the pipeline's tables
// (null when the expression is compiled without any).
struct compile_env {
  const table_catalog* tables = nullptr;
};

// Why a build hook rejected a call: the argument at fault (its source offset
// is where the error points) and the message.
struct build_error {
  std::size_t arg = 0;
  std::string message;
};
using build_result = std::variant<node_ptr, build_error>;

// One built-in function: its arity, the types each argument accepts, its
// static result type, and how it evaluates. Most functions have `eval` and
// receive their arguments already evaluated and type-checked; forms that must
// not evaluate every argument (if, coalesce) or that prepare something at
// compile time (a regular expression) have `build` instead.
// The table is a constant; adding a function is adding one entry.
struct function_def {
  std::string_view name;
  std::size_t min_args;
  std::size_t max_args;
  // Accepted types of arguments 1, 2 and 3; the last applies to any further.
  std::array<type_mask, 3> params;
  // When set, a null argument makes the result null without calling eval.
  bool null_in_null_out;
  // The static result type for the given argument types.
  type (*result)(std::span<const type> args);
  core::status (*eval)(const function_def& self, std::span<const core::value* const> args,
                       core::value& out);
  build_result (*build)(const function_def& self, type result, std::vector<node_ptr> args,
                        const compile_env& env);
  // When set, the non-null arguments must all have the same type.
  bool same_type_args = false;
  // Bit i set: argument i must be written as a string literal (a pattern).
  std::uint8_t literal_args = 0;
  // Checks an argument written as a literal at load time (a format string):
  // an empty message means it is fine. Evaluation checks it again otherwise.
  std::string (*check_literal)(std::size_t index, const core::value& literal) = nullptr;
  // False for functions whose result is not determined by their arguments
  // (now_ms): their calls are never computed at compile time.
  bool foldable = true;

  type_mask param(std::size_t i) const noexcept { return params[i < 2 ? i : 2]; }
  bool needs_literal(std::size_t i) const noexcept { return i < 8 && (literal_args >> i & 1u); }
};

// The built-in function called `name`, or null.
const function_def* find_function(std::string_view name) noexcept;
// The message for a call to a name that is not in the table.
std::string unknown_function_message(std::string_view name);

// Checks one evaluated argument against the types the function accepts
// (null passes). Shared by the evaluator and the constant folder.
core::status check_argument(const function_def& f, std::size_t index, const core::value& arg);

}  // namespace weir::expr
