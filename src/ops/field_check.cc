#include "weir/ops/field_check.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "weir/expr/expression.h"
#include "weir/expr/fields.h"

namespace weir::ops {
namespace {

// The top-level field a written field path (`user.name`) sets or removes.
std::string top_level(const std::string& path) {
  return path.substr(0, path.find('.'));
}

bool nested(const std::string& path) {
  return path.find('.') != std::string::npos;
}

// What is known of the records between two steps.
class record_shape {
 public:
  // Checks what `n` (an expression) reads; `what` names it in messages.
  void check(const config::node& n, const std::string& what, config::diagnostics& diag) const {
    if (!n.is_scalar()) return;
    auto reads = expr::reads_of(n.scalar);
    if (!reads) return;
    for (const auto& f : reads->fields) {
      if (auto why = missing(f.name)) {
        diag.error(n.mark_at(f.offset),
                   what + ": field '" + f.name + "' cannot exist here: " + *why);
      }
    }
  }

  // A field path read as a name (explode's field, rename's source).
  void check_path(const config::node& n, const std::string& what, config::diagnostics& diag) const {
    if (!n.is_scalar()) return;
    const std::string name = top_level(n.scalar);
    if (auto why = missing(name)) {
      diag.error(n.at, what + ": field '" + name + "' cannot exist here: " + *why);
    }
  }

  void set(const std::string& path) {
    const std::string name = top_level(path);
    if (exact_ && std::find(fields_.begin(), fields_.end(), name) == fields_.end())
      fields_.push_back(name);
    std::erase_if(gone_, [&](const auto& g) { return g.first == name; });
  }

  void remove(const std::string& path, const std::string& why) {
    if (nested(path)) return;
    if (exact_) {
      std::erase(fields_, path);
      return;
    }
    std::erase_if(gone_, [&](const auto& g) { return g.first == path; });
    gone_.emplace_back(path, why);
  }

  // Records now have exactly `fields`, made by `step`.
  void exactly(std::vector<std::string> fields, std::string step) {
    exact_ = true;
    fields_ = std::move(fields);
    made_by_ = std::move(step);
    gone_.clear();
  }

  // Records may now hold any field (a whole table row was copied in).
  void anything() {
    exact_ = false;
    fields_.clear();
    gone_.clear();
  }

 private:
  std::optional<std::string> missing(const std::string& name) const {
    if (exact_) {
      if (std::find(fields_.begin(), fields_.end(), name) != fields_.end()) return std::nullopt;
      std::string list;
      for (const auto& f : fields_) list += (list.empty() ? "" : ", ") + f;
      std::string why = "after window step " + made_by_ + ", records have only the fields " + list;
      // A window grouped by `a.b` names its result field "a.b" as written.
      for (const auto& f : fields_) {
        if (f.starts_with(name + ".")) {
          why += " (read the field named '" + f + "' as $value[\"" + f + "\"])";
          break;
        }
      }
      return why;
    }
    for (const auto& [field, why] : gone_) {
      if (field == name) return why;
    }
    return std::nullopt;
  }

  bool exact_ = false;
  std::vector<std::string> fields_;                        // exact: every top-level field
  std::string made_by_;                                    // exact: the step that made them
  std::vector<std::pair<std::string, std::string>> gone_;  // not exact: removed, and why
};

void map_step(const config::step_spec& st, record_shape& shape, config::diagnostics& diag) {
  if (st.body->is_map()) {
    for (const auto& e : st.body->entries) {
      shape.check(e.val, "map '" + e.key.scalar + "'", diag);
      shape.set(e.key.scalar);
    }
  }
  if (const config::node* r = st.entry->get("rename"); r && r->is_map()) {
    for (const auto& e : r->entries) {
      shape.check_path(e.key, "rename", diag);
      shape.remove(e.key.scalar, "step " + st.name + " renamed it to '" + e.val.scalar + "'");
      shape.set(e.val.scalar);
    }
  }
  if (const config::node* d = st.entry->get("drop")) {
    auto drop = [&](const config::node& f) {
      if (f.is_scalar()) shape.remove(f.scalar, "step " + st.name + " dropped it");
    };
    if (d->is_sequence()) {
      for (const auto& f : d->items) drop(f);
    } else {
      drop(*d);
    }
  }
}

void window_step(const config::step_spec& st, record_shape& shape, config::diagnostics& diag) {
  const config::node& body = *st.body;
  std::vector<std::string> out;
  if (const config::node* g = body.get("group_by")) {
    auto group = [&](const config::node& item) {
      shape.check(item, "group_by", diag);
      auto compiled = expr::expression::compile(item.scalar);
      if (const auto* e = std::get_if<expr::expression>(&compiled)) {
        if (auto path = e->path_name()) out.push_back(*path);
      }
    };
    if (g->is_sequence()) {
      for (const auto& item : g->items) group(item);
    } else if (g->is_scalar()) {
      group(*g);
    }
  }
  out.push_back("window_start");
  out.push_back("window_end");
  if (const config::node* agg = body.get("aggregate"); agg && agg->is_map()) {
    for (const auto& e : agg->entries) {
      shape.check(e.val, "aggregate '" + e.key.scalar + "'", diag);
      out.push_back(e.key.scalar);
    }
  }
  const config::node* emit = body.get("emit");
  if (emit && !(emit->is_scalar() && emit->scalar == "final")) {
    out.push_back("revision");
    out.push_back("final");
  }
  shape.exactly(std::move(out), st.name);
}

}  // namespace

void check_field_uses(const config::pipeline_spec& spec, config::diagnostics& diag) {
  record_shape shape;
  for (const auto& st : spec.steps) {
    const config::node& body = *st.body;
    if (st.kind == "filter") {
      shape.check(body, "filter", diag);
    } else if (st.kind == "map") {
      map_step(st, shape, diag);
    } else if (st.kind == "explode") {
      const config::node* field = body.is_map() ? body.get("field") : &body;
      const config::node* as = body.is_map() ? body.get("as") : nullptr;
      if (field) shape.check_path(*field, "explode", diag);
      if (field && as && as->scalar != field->scalar) {
        shape.remove(field->scalar, "step " + st.name + " replaced it by '" + as->scalar + "'");
        shape.set(as->scalar);
      }
    } else if (st.kind == "enrich") {
      if (const config::node* k = body.get("key")) shape.check(*k, "enrich.key", diag);
      if (const config::node* f = body.get("fields"); f && f->is_map()) {
        for (const auto& e : f->entries) shape.set(e.key.scalar);
      } else {
        shape.anything();
      }
    } else if (st.kind == "dedupe") {
      if (const config::node* k = body.get("key")) shape.check(*k, "dedupe.key", diag);
    } else if (st.kind == "window") {
      window_step(st, shape, diag);
    } else {
      shape.anything();
    }
  }
  for (std::size_t i = 0; i < spec.sinks.size(); ++i) {
    const auto& sink = spec.sinks[i];
    const std::string what = spec.routed ? "sinks[" + std::to_string(i + 1) + "]" : "sink";
    if (sink.when) shape.check(*sink.when, what + ".when", diag);
    if (sink.key) shape.check(*sink.key, what + ".key", diag);
  }
}

}  // namespace weir::ops
