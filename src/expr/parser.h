#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <variant>
#include <vector>

#include "expr/ast.h"
#include "expr/lexer.h"

namespace weir::expr {

// Parses a whole expression (DESIGN.md section 2.3) into an AST.
std::variant<std::unique_ptr<ast>, syntax_error> parse(std::string_view source);

// Parses a source that must be exactly one call, `name(arg, ...)`; the result
// is an ast_kind::call whose name is not looked up.
std::variant<std::unique_ptr<ast>, syntax_error> parse_call(std::string_view source);

}  // namespace weir::expr
