#pragma once

#include <optional>
#include <string_view>

#include "weir/config/diagnostics.h"
#include "weir/config/pipeline.h"
#include "weir/expr/expression.h"

namespace weir::ops {

// Compiles the expression written in scalar `n`, reporting a problem at the
// exact column inside it. `lookup` calls bind to `tables`.
std::optional<expr::expression> compile_expression(const config::node& n, config::diagnostics& diag,
                                                   std::string_view what,
                                                   const expr::table_catalog* tables = nullptr);

// Reports every key of a step's entry besides `id`, its kind and `allowed`.
void check_step_keys(const config::step_spec& spec, std::initializer_list<std::string_view> allowed,
                     config::diagnostics& diag);

}  // namespace weir::ops
