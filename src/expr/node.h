#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "expr/ast.h"
#include "expr/types.h"
#include "weir/core/result.h"
#include "weir/core/value.h"
#include "weir/expr/expression.h"

namespace weir::expr {

struct function_def;

// Shared constants that evaluation results may point at.
extern const core::value null_value;
extern const core::value true_value;
extern const core::value false_value;
inline const core::value* bool_value(bool b) noexcept {
  return b ? &true_value : &false_value;
}

using node_ptr = std::unique_ptr<node>;
using eval_result = core::result<const core::value*>;

// One operation of a compiled expression. Immutable once built and shared by
// every copy of the expression, so evaluation may run on any number of threads.
// eval() returns a pointer into the record, into the node (literals), to a
// shared constant or to `tmp`, which belongs to the caller; a node writes its
// own result to `tmp` only after it has finished reading its operands.
struct node {
  explicit node(type t) : static_type(t) {}
  virtual ~node() = default;
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  virtual eval_result eval(const scope& s, core::value& tmp) const = 0;
  // The value, when the node is a literal; lets the compiler fold constants.
  virtual const core::value* constant() const noexcept { return nullptr; }

  const type static_type;
};

// A value known at compile time.
struct literal_node final : node {
  explicit literal_node(core::value v) : node(type_of(v)), value(std::move(v)) {}
  eval_result eval(const scope&, core::value&) const override { return &value; }
  const core::value* constant() const noexcept override { return &value; }
  const core::value value;
};

// One step of a path: an object member or an array element (negative counts
// from the end).
struct path_segment {
  std::variant<std::string, std::int64_t> step;
};

// `base.a["b"][0]`, or from the record value when base is null. Navigating
// into a missing member, an index out of range or a value of another type
// yields null, never an error.
struct path_node final : node {
  path_node(node_ptr b, std::vector<path_segment> segs)
      : node(type::any), base(std::move(b)), segments(std::move(segs)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  node_ptr base;
  std::vector<path_segment> segments;
};

// `base[index]` with an index computed per record: a number selects an array
// element, a string an object member.
struct index_node final : node {
  index_node(node_ptr b, node_ptr i) : node(type::any), base(std::move(b)), index(std::move(i)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  node_ptr base;
  node_ptr index;
};

// `$key`, `$timestamp`, `$topic`, `$partition`, `$offset`: null without metadata.
struct meta_node final : node {
  meta_node(meta_field f, type t) : node(t), field(f) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  meta_field field;
};

// `$headers.NAME`: the last header with that name; null if absent or valueless.
struct header_node final : node {
  explicit header_node(std::string n) : node(type::string), name(std::move(n)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  std::string name;
};

// `[a, b, ...]` with at least one element not known at compile time.
struct list_node final : node {
  explicit list_node(std::vector<node_ptr> e) : node(type::array), elements(std::move(e)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  std::vector<node_ptr> elements;
};

// `-x` and `not x`.
struct unary_node final : node {
  unary_node(op o, type t, node_ptr x) : node(t), oper(o), operand(std::move(x)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  op oper;
  node_ptr operand;
};

// `+ - * / %`, comparisons, `in` and `not in`: both operands always evaluated.
struct binary_node final : node {
  binary_node(op o, type t, node_ptr l, node_ptr r)
      : node(t), oper(o), left(std::move(l)), right(std::move(r)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  op oper;
  node_ptr left;
  node_ptr right;
};

// `and` / `or` with SQL three-valued logic; the right side is skipped when the
// left decides.
struct logical_node final : node {
  logical_node(op o, node_ptr l, node_ptr r)
      : node(type::boolean), oper(o), left(std::move(l)), right(std::move(r)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  op oper;
  node_ptr left;
  node_ptr right;
};

// `a ?? b` and coalesce(a, b, ...): the first non-null operand, evaluated in order.
struct coalesce_node final : node {
  coalesce_node(type t, std::vector<node_ptr> o) : node(t), operands(std::move(o)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  std::vector<node_ptr> operands;
};

// if(cond, a, b): evaluates only the branch taken; a null condition takes b.
struct if_node final : node {
  if_node(type t, node_ptr c, node_ptr a, node_ptr b)
      : node(t), cond(std::move(c)), then_branch(std::move(a)), else_branch(std::move(b)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  node_ptr cond;
  node_ptr then_branch;
  node_ptr else_branch;
};

// A function from the function table whose arguments are all evaluated first.
struct call_node final : node {
  call_node(const function_def& f, type t, std::vector<node_ptr> a)
      : node(t), fn(f), args(std::move(a)) {}
  eval_result eval(const scope& s, core::value& tmp) const override;
  const function_def& fn;
  std::vector<node_ptr> args;
};

core::error type_error(std::string message);

}  // namespace weir::expr
