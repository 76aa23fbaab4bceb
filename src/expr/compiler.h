#pragma once

#include <variant>

#include "expr/ast.h"
#include "expr/functions.h"
#include "expr/node.h"

namespace weir::expr {

// Turns a checked AST into evaluation nodes: paths become pre-split segment
// lists, and every operation whose operands are all known at compile time is
// evaluated once and replaced by its value. An error met while folding (such
// as substr("abc", 1.5)) is a syntax_error at the operation.
// `lookup` calls are bound to the tables of `env`.
std::variant<node_ptr, syntax_error> compile_tree(const ast& checked, const compile_env& env = {});

}  // namespace weir::expr
