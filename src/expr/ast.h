#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weir/core/value.h"
#include "weir/expr/expression.h"

namespace weir::expr {

enum class op : std::uint8_t {
  coalesce,  // ??
  logical_or,
  logical_and,
  logical_not,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  in,
  not_in,
  add,
  sub,
  mul,
  div,
  mod,
  neg,  // unary -
};

// The operator as written: "??", "or", "not in", "-", ...
const char* op_name(op o) noexcept;
bool is_comparison(op o) noexcept;

enum class meta_field : std::uint8_t { key, timestamp, topic, partition, offset };

enum class ast_kind : std::uint8_t {
  literal,  // literal
  list,     // children: elements
  field,    // name: a top-level field of the record value
  root,     // `$value`: the record value itself
  meta,     // meta: `$key`, `$timestamp`, ...
  header,   // name: `$headers.NAME`
  member,   // children[0].name
  index,    // children[0][children[1]]
  call,     // name(children...)
  unary,    // oper children[0]
  binary,   // children[0] oper children[1]
};

// One parsed element of an expression. Built by the parser, given its static
// type by the checker, compiled into nodes and then discarded; owned by one
// compile call on one thread.
struct ast {
  ast_kind kind = ast_kind::literal;
  std::size_t offset = 0;  // where errors about this element point (operator, name, token)
  std::size_t begin = 0;   // the source range the element spans
  std::size_t end = 0;
  op oper = op::add;
  meta_field meta = meta_field::key;
  std::string name;
  core::value literal;
  std::vector<std::unique_ptr<ast>> children;
  std::uint32_t height = 1;      // longest path to a leaf; bounds recursion in later passes
  type static_type = type::any;  // set by check()
};

}  // namespace weir::expr
