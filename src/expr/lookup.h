#pragma once

#include <vector>

#include "expr/functions.h"
#include "expr/node.h"

namespace weir::expr {

// lookup("table", key): binds the call to the declared table named by its
// first argument (a string literal) when the expression is compiled.
build_result build_lookup(const function_def& f, type result, std::vector<node_ptr> args,
                          const compile_env& env);

}  // namespace weir::expr
