#pragma once

#include <optional>

#include "expr/ast.h"

namespace weir::expr {

// Infers the static type of every element of `root` (ast::static_type) and
// reports the first type error visible without data: an operator or function
// given a literal, an operator result or a metadata field of a type it never
// accepts. Paths are type::any and never fail here. Also resolves function
// names and checks their arity.
std::optional<syntax_error> check(ast& root);

}  // namespace weir::expr
