#include <string_view>

#include "ops/steps.h"

namespace weir::ops {
namespace {

struct step_kind {
  std::string_view name;
  bool stateful;
  std::unique_ptr<step> (*build)(const config::step_spec&, const build_context&,
                                 config::diagnostics&);
};

// Every step kind weir knows, in one place.
constexpr step_kind kinds[] = {
    {"filter", false, build_filter},   {"map", false, build_map},
    {"explode", false, build_explode}, {"enrich", false, build_enrich},
    {"dedupe", true, build_dedupe},    {"window", true, build_window},
};

}  // namespace

core::result<std::string> step::group_key(const event& /*e*/) const {
  return core::error{core::errc::internal, "step " + name_ + " has no group key"};
}

std::unique_ptr<step> build_step(const config::step_spec& spec, const build_context& ctx,
                                 config::diagnostics& diag) {
  for (const auto& k : kinds) {
    if (spec.kind != k.name) continue;
    if (k.stateful && !spec.id) {
      diag.error(spec.at, std::string(k.name) +
                              " steps keep state and need a stable 'id' (it names their state "
                              "and internal topics)");
      return nullptr;
    }
    return k.build(spec, ctx, diag);
  }
  std::string known;
  for (const auto& k : kinds) known += (known.empty() ? "" : ", ") + std::string(k.name);
  config::mark at = spec.at;
  for (const auto& e : spec.entry->entries) {
    if (e.key.scalar == spec.kind) at = e.key.at;
  }
  diag.error(at, "unknown step kind '" + spec.kind + "' (known: " + known + ")");
  return nullptr;
}

}  // namespace weir::ops
