#include <utility>

#include "ops/compile.h"
#include "ops/steps.h"

namespace weir::ops {
namespace {

// `explode: FIELD` or `explode: {field: FIELD, as: NAME}`: one record per
// element of the array in FIELD, in array order. Without `as` the element
// takes the array's place; with `as` the array field is removed and the
// element is set at NAME. A missing, null or empty array produces nothing;
// any other non-array is errc::type_error. Key and time are unchanged.
class explode_step final : public step {
 public:
  explode_step(std::string name, field_path field, std::optional<field_path> as)
      : step(std::move(name)), field_(std::move(field)), as_(std::move(as)) {}

  std::string explain() const override {
    return "explode: one record per element of " + field_.text +
           (as_ ? ", set at " + as_->text + " (" + field_.text + " removed)" : ", replacing it") +
           "; missing, null or empty produce nothing";
  }

  std::unique_ptr<step_instance> instantiate(const task_context&) const override {
    return std::make_unique<instance>(*this);
  }

 private:
  class instance final : public step_instance {
   public:
    explicit instance(const explode_step& def) : def_(def) {}
    core::status process(event&& e, emitter& out) override {
      core::value* slot = find_field(e.value, def_.field_);
      if (!slot || slot->is_null()) return {};
      if (!slot->is_array()) {
        return core::error{core::errc::type_error, "explode: '" + def_.field_.text +
                                                       "' must be an array, found " +
                                                       core::kind_name(slot->type())};
      }
      core::value::array_type elements = std::move(slot->as_array());
      if (elements.empty()) return {};
      // The record without the array: the base of every output.
      if (def_.as_) {
        take_field(e.value, def_.field_);
      } else {
        *slot = core::value{};
      }
      const field_path& target = def_.as_ ? *def_.as_ : def_.field_;
      // Every output has the base's shape, so if the first can be built, all can:
      // an error leaves nothing emitted.
      for (std::size_t i = 0; i < elements.size(); ++i) {
        const bool last = i + 1 == elements.size();
        event one{last ? std::move(e.value) : e.value, e.key, e.time, e.source};
        if (auto st = set_field(one.value, target, std::move(elements[i])); !st) return st;
        out.emit(std::move(one));
      }
      return {};
    }

   private:
    const explode_step& def_;
  };

  field_path field_;
  std::optional<field_path> as_;
};

}  // namespace

std::unique_ptr<step> build_explode(const config::step_spec& spec, const build_context&,
                                    config::diagnostics& diag) {
  check_step_keys(spec, {}, diag);
  const std::size_t problems_before = diag.list().size();
  std::optional<field_path> field, as;
  if (spec.body->is_map()) {
    config::map_reader r(*spec.body, diag, "explode step");
    if (const config::node* f = r.required("field"))
      field = read_field_path(*f, diag, "explode.field");
    if (const config::node* a = r.optional("as")) as = read_field_path(*a, diag, "explode.as");
    r.finish();
  } else if (spec.body->is_scalar()) {
    field = read_field_path(*spec.body, diag, "explode");
  } else {
    diag.error(spec.body->at,
               "explode takes an array field, such as 'items' or "
               "{field: items, as: item}, found " +
                   std::string(spec.body->kind_description()));
  }
  if (diag.list().size() != problems_before || !field) return nullptr;
  if (as && as->text == field->text) as.reset();
  return std::make_unique<explode_step>(spec.name, std::move(*field), std::move(as));
}

}  // namespace weir::ops
