#pragma once

#include "weir/ops/step.h"

namespace weir::ops {

// Parsers of the step kinds; build_step (registry.cc) picks one by kind.
std::unique_ptr<step> build_filter(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag);
std::unique_ptr<step> build_window(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag);

}  // namespace weir::ops
