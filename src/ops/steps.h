#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/ops/step.h"

namespace weir::ops {

// Parsers of the step kinds; build_step (registry.cc) picks one by kind.
std::unique_ptr<step> build_filter(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag);
std::unique_ptr<step> build_map(const config::step_spec& spec, const build_context& ctx,
                                config::diagnostics& diag);
std::unique_ptr<step> build_explode(const config::step_spec& spec, const build_context& ctx,
                                    config::diagnostics& diag);
std::unique_ptr<step> build_dedupe(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag);
std::unique_ptr<step> build_enrich(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag);
std::unique_ptr<step> build_window(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag);

// A field a step writes, named with dots for nesting (`user.name`); used by
// map and explode, defined in map.cc. Invariant: at least one segment, none
// empty.
struct field_path {
  std::string text;  // as written
  std::vector<std::string> segments;
};
// Reads scalar `n` as a field path, reporting a problem at `n`.
std::optional<field_path> read_field_path(const config::node& n, config::diagnostics& diag,
                                          std::string_view what);
// The field in `root`, or nullptr when it or an object on the way is missing.
core::value* find_field(core::value& root, const field_path& p);
// Sets the field, creating missing or null objects on the way; a non-object
// on the way is errc::type_error.
core::status set_field(core::value& root, const field_path& p, core::value v);
// Removes the field and returns it; nullopt when it is missing.
std::optional<core::value> take_field(core::value& root, const field_path& p);

}  // namespace weir::ops
