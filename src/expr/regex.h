#pragma once

#include <vector>

#include "expr/functions.h"
#include "expr/node.h"

namespace weir::expr {

// Build hooks of matches, regex_extract and regex_replace. The pattern is
// argument 2, a string literal (the checker enforces it), compiled here once;
// an invalid pattern is a build_error on that argument. RE2 stays inside
// regex.cc.
build_result build_matches(const function_def& f, type result, std::vector<node_ptr> args,
                           const compile_env& env);
build_result build_regex_extract(const function_def& f, type result, std::vector<node_ptr> args,
                                 const compile_env& env);
build_result build_regex_replace(const function_def& f, type result, std::vector<node_ptr> args,
                                 const compile_env& env);

}  // namespace weir::expr
