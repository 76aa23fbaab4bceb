#include "ops/steps.h"

#include "ops/compile.h"

namespace weir::ops {
namespace {

// `filter: EXPR` keeps the records for which EXPR is true; false or null
// drops them.
class filter_step final : public step {
 public:
  filter_step(std::string name, expr::expression condition)
      : step(std::move(name)), condition_(std::move(condition)) {}

  std::string explain() const override {
    return "filter: keep records where " + condition_.source() + " is true (false or null drop)";
  }

  std::unique_ptr<step_instance> instantiate(const task_context&) const override {
    return std::make_unique<instance>(*this);
  }

 private:
  class instance final : public step_instance {
   public:
    explicit instance(const filter_step& def) : def_(def) {}
    core::status process(event&& e, emitter& out) override {
      auto keep = def_.condition_.test(expr::scope{&e.value, e.source});
      if (!keep) return std::move(keep).err();
      if (*keep) out.emit(std::move(e));
      return {};
    }

   private:
    const filter_step& def_;
  };

  expr::expression condition_;
};

}  // namespace

std::unique_ptr<step> build_filter(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag) {
  check_step_keys(spec, {}, diag);
  auto condition = compile_expression(*spec.body, diag, "filter", ctx.tables);
  if (!condition) return nullptr;
  if (auto t = condition->static_type();
      t != expr::type::any && t != expr::type::boolean && t != expr::type::null) {
    diag.error(spec.body->at, "filter must be a condition (true or false)");
    return nullptr;
  }
  return std::make_unique<filter_step>(spec.name, std::move(*condition));
}

}  // namespace weir::ops
