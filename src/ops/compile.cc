#include "ops/compile.h"

#include <algorithm>

#include "weir/config/pipeline.h"

namespace weir::ops {

std::optional<expr::expression> compile_expression(const config::node& n, config::diagnostics& diag,
                                                   std::string_view what,
                                                   const expr::table_catalog* tables) {
  if (!n.is_scalar() || n.scalar.empty()) {
    diag.error(n.at, std::string(what) + " must be an expression, found " +
                         (n.is_scalar() ? "an empty string" : n.kind_description()));
    return std::nullopt;
  }
  auto compiled = expr::expression::compile(n.scalar, tables);
  if (auto* err = std::get_if<expr::syntax_error>(&compiled)) {
    diag.error(n.mark_at(err->offset), std::string(what) + ": " + err->message);
    return std::nullopt;
  }
  return std::get<expr::expression>(std::move(compiled));
}

void check_step_keys(const config::step_spec& spec, std::initializer_list<std::string_view> allowed,
                     config::diagnostics& diag) {
  for (const auto& e : spec.entry->entries) {
    const auto& k = e.key.scalar;
    if (k == "id" || k == spec.kind) continue;
    if (std::find(allowed.begin(), allowed.end(), k) != allowed.end()) continue;
    diag.error(e.key.at, "unknown key '" + k + "' in " + spec.kind + " step");
  }
}

}  // namespace weir::ops
