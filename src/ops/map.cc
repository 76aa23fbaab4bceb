#include <utility>

#include "ops/compile.h"
#include "ops/steps.h"

namespace weir::ops {

std::optional<field_path> read_field_path(const config::node& n, config::diagnostics& diag,
                                          std::string_view what) {
  if (!n.is_scalar() || n.scalar.empty()) {
    diag.error(n.at, std::string(what) + " must be a field name such as 'amount' or 'user.name'");
    return std::nullopt;
  }
  field_path p;
  p.text = n.scalar;
  std::size_t start = 0;
  while (true) {
    std::size_t dot = n.scalar.find('.', start);
    std::string seg = n.scalar.substr(start, dot == std::string::npos ? dot : dot - start);
    if (seg.empty()) {
      diag.error(n.mark_at(start),
                 std::string(what) + ": empty segment in field name '" + n.scalar + "'");
      return std::nullopt;
    }
    p.segments.push_back(std::move(seg));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return p;
}

namespace {

// The member `key` of object `v`, or nullptr.
core::value* member(core::value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  for (auto& m : v.as_object()) {
    if (m.key == key) return &m.val;
  }
  return nullptr;
}

// The object holding the last segment of `p`, or nullptr.
core::value* parent_of(core::value& root, const field_path& p) {
  core::value* cur = &root;
  for (std::size_t i = 0; i + 1 < p.segments.size(); ++i) {
    cur = member(*cur, p.segments[i]);
    if (!cur) return nullptr;
  }
  return cur->is_object() ? cur : nullptr;
}

}  // namespace

core::value* find_field(core::value& root, const field_path& p) {
  core::value* parent = parent_of(root, p);
  return parent ? member(*parent, p.segments.back()) : nullptr;
}

core::status set_field(core::value& root, const field_path& p, core::value v) {
  core::value* cur = &root;
  for (std::size_t i = 0; i + 1 < p.segments.size(); ++i) {
    core::value* next = member(*cur, p.segments[i]);
    if (!next) {
      cur->set(p.segments[i], core::value::object_type{});
      next = member(*cur, p.segments[i]);
    } else if (next->is_null()) {
      *next = core::value::object_type{};
    } else if (!next->is_object()) {
      std::string prefix;
      for (std::size_t j = 0; j <= i; ++j) prefix += (j ? "." : "") + p.segments[j];
      return core::error{core::errc::type_error, "cannot set '" + p.text + "': '" + prefix +
                                                     "' must be an object, found " +
                                                     core::kind_name(next->type())};
    }
    cur = next;
  }
  if (!cur->is_object()) {
    return core::error{core::errc::type_error,
                       "cannot set '" + p.text + "': the record is not an object"};
  }
  cur->set(p.segments.back(), std::move(v));
  return {};
}

std::optional<core::value> take_field(core::value& root, const field_path& p) {
  core::value* parent = parent_of(root, p);
  if (!parent) return std::nullopt;
  core::value* v = member(*parent, p.segments.back());
  if (!v) return std::nullopt;
  core::value out = std::move(*v);
  parent->erase(p.segments.back());
  return out;
}

namespace {

// One `name: expression` of a map step.
struct assignment {
  field_path target;
  expr::expression value;
};

struct rename_spec {
  field_path from;
  field_path to;
};

// `map: {FIELD: EXPR, ...}` with optional `rename: {OLD: NEW}` and
// `drop: [FIELD, ...]` beside it. Applied in that order: every assignment in
// declaration order (each sees the ones before), then renames, then drops.
// The event's key and time are unchanged.
class map_step final : public step {
 public:
  map_step(std::string name, std::vector<assignment> set, std::vector<rename_spec> rename,
           std::vector<field_path> drop)
      : step(std::move(name)),
        set_(std::move(set)),
        rename_(std::move(rename)),
        drop_(std::move(drop)) {}

  std::string explain() const override {
    std::string out = "map:";
    for (const auto& a : set_) out += "\n  set:    " + a.target.text + " = " + a.value.source();
    for (const auto& r : rename_) out += "\n  rename: " + r.from.text + " -> " + r.to.text;
    for (const auto& d : drop_) out += "\n  drop:   " + d.text;
    return out;
  }

  std::unique_ptr<step_instance> instantiate(const task_context&) const override {
    return std::make_unique<instance>(*this);
  }

 private:
  class instance final : public step_instance {
   public:
    explicit instance(const map_step& def) : def_(def) {}
    core::status process(event&& e, emitter& out) override {
      for (const auto& a : def_.set_) {
        auto v = a.value.eval(expr::scope{&e.value, e.source});
        if (!v) return std::move(v).err();
        if (auto st = set_field(e.value, a.target, std::move(*v)); !st) return st;
      }
      for (const auto& r : def_.rename_) {
        auto v = take_field(e.value, r.from);
        if (!v) continue;
        if (auto st = set_field(e.value, r.to, std::move(*v)); !st) return st;
      }
      for (const auto& d : def_.drop_) take_field(e.value, d);
      out.emit(std::move(e));
      return {};
    }

   private:
    const map_step& def_;
  };

  std::vector<assignment> set_;
  std::vector<rename_spec> rename_;
  std::vector<field_path> drop_;
};

}  // namespace

std::unique_ptr<step> build_map(const config::step_spec& spec, const build_context& ctx,
                                config::diagnostics& diag) {
  const std::size_t problems_before = diag.list().size();
  check_step_keys(spec, {"drop", "rename"}, diag);
  std::vector<assignment> set;
  std::vector<rename_spec> rename;
  std::vector<field_path> drop;

  if (spec.body->is_null()) {
    // `map:` with only rename or drop beside it.
  } else if (!spec.body->is_map()) {
    diag.error(spec.body->at,
               "map must be a map of field to expression, such as "
               "{amount_eur: amount * 0.92}, found " +
                   std::string(spec.body->kind_description()));
  } else {
    for (const auto& e : spec.body->entries) {
      auto target = read_field_path(e.key, diag, "map field");
      // `field: null` (or `field:`, YAML's null) sets the field to null, like
      // the expression `null`.
      std::optional<expr::expression> value;
      if (e.val.is_null()) {
        config::node literal = e.val;
        literal.type = config::node::kind::scalar;
        literal.scalar = "null";
        value = compile_expression(literal, diag, "map '" + e.key.scalar + "'", ctx.tables);
      } else {
        value = compile_expression(e.val, diag, "map '" + e.key.scalar + "'", ctx.tables);
      }
      if (target && value) set.push_back(assignment{std::move(*target), std::move(*value)});
    }
  }
  if (const config::node* r = spec.entry->get("rename")) {
    if (!r->is_map() || r->entries.empty()) {
      diag.error(r->at, "rename must be a map of old field name to new, such as {old: new}");
    } else {
      for (const auto& e : r->entries) {
        auto from = read_field_path(e.key, diag, "rename");
        auto to = read_field_path(e.val, diag, "rename '" + e.key.scalar + "'");
        if (from && to) rename.push_back(rename_spec{std::move(*from), std::move(*to)});
      }
    }
  }
  if (const config::node* d = spec.entry->get("drop")) {
    for (const config::node* f : config::read_string_list(*d, diag, "drop")) {
      if (auto p = read_field_path(*f, diag, "drop")) drop.push_back(std::move(*p));
    }
  }
  if (diag.list().size() != problems_before) return nullptr;
  if (set.empty() && rename.empty() && drop.empty()) {
    diag.error(spec.body->at, "map step changes nothing: give fields to set, rename or drop");
    return nullptr;
  }
  return std::make_unique<map_step>(spec.name, std::move(set), std::move(rename), std::move(drop));
}

}  // namespace weir::ops
