#include <string>
#include <utility>
#include <vector>

#include "ops/compile.h"
#include "ops/steps.h"

namespace weir::ops {
namespace {

enum class on_miss : std::uint8_t { keep, drop, dead_letter };

// One `out_name: table_field` of an enrich step.
struct copied_field {
  field_path to;
  field_path from;  // a path in the row
};

// `enrich: {table, key, fields, on_miss}`: looks the record's key up in a
// table and copies fields of the row into the record (every top-level field
// of the row without `fields`). A miss (no row, or a null key) keeps the
// record with the fields set to null, drops it, or fails it with
// errc::table_miss for the error policy (the dead-letter topic). Misses are
// counted in every mode. Stateless: the table belongs to the pipeline.
class enrich_step final : public step {
 public:
  enrich_step(std::string name, const expr::table_view& table, expr::expression key,
              std::vector<copied_field> fields, on_miss miss, metrics::counter& misses)
      : step(std::move(name)),
        table_(table),
        key_(std::move(key)),
        fields_(std::move(fields)),
        miss_(miss),
        misses_(misses) {}

  std::string explain() const override {
    static const char* const modes[] = {"keep", "drop", "dead_letter"};
    std::string out = "enrich: from table " + table_.name() + " by key " + key_.source() +
                      ", on miss " + modes[static_cast<int>(miss_)];
    if (fields_.empty()) out += "\n  copy:   every field of the row";
    for (const auto& f : fields_) out += "\n  set:    " + f.to.text + " = row." + f.from.text;
    return out;
  }

  std::unique_ptr<step_instance> instantiate(const task_context&) const override {
    return std::make_unique<instance>(*this);
  }

 private:
  class instance final : public step_instance {
   public:
    explicit instance(const enrich_step& def) : def_(def) {}

    core::status process(event&& e, emitter& out) override {
      const auto& d = def_;
      auto k = d.key_.eval_ref(expr::scope{&e.value, e.source}, key_scratch_);
      if (!k) return std::move(k).err();
      auto text = expr::table_key(**k, key_text_);
      const core::value* row = nullptr;
      if (text) {
        auto found = d.table_.find(*text, row_);
        if (!found) return std::move(found).err();
        row = *found;
      }
      if (!row) return miss(std::move(e), text, out);
      if (d.fields_.empty()) {
        if (row->is_object()) {
          for (const auto& m : row->as_object()) e.value.set(m.key, m.val);
        }
      } else {
        for (const auto& f : d.fields_) {
          const core::value* v = row;
          for (const auto& seg : f.from.segments) {
            v = v->find(seg);
            if (!v) break;
          }
          if (auto st = set_field(e.value, f.to, v ? *v : core::value{}); !st) return st;
        }
      }
      out.emit(std::move(e));
      return {};
    }

   private:
    core::status miss(event&& e, const std::optional<std::string_view>& key, emitter& out) {
      const auto& d = def_;
      d.misses_.inc();
      switch (d.miss_) {
        case on_miss::keep:
          for (const auto& f : d.fields_) {
            if (auto st = set_field(e.value, f.to, core::value{}); !st) return st;
          }
          out.emit(std::move(e));
          return {};
        case on_miss::drop:
          return {};
        case on_miss::dead_letter:
          break;
      }
      return core::error{
          core::errc::table_miss,
          key ? "no row in table '" + d.table_.name() + "' for key '" + std::string(*key) + "'"
              : "the key for table '" + d.table_.name() + "' is null"};
    }

    const enrich_step& def_;
    // Reused across records so that a lookup allocates only what the row needs.
    core::value key_scratch_;
    core::value row_;
    std::string key_text_;
  };

  const expr::table_view& table_;
  expr::expression key_;
  std::vector<copied_field> fields_;
  on_miss miss_;
  metrics::counter& misses_;
};

}  // namespace

std::unique_ptr<step> build_enrich(const config::step_spec& spec, const build_context& ctx,
                                   config::diagnostics& diag) {
  check_step_keys(spec, {}, diag);
  const std::size_t problems_before = diag.list().size();
  config::map_reader r(*spec.body, diag, "enrich step");
  if (!r.valid()) return nullptr;
  const expr::table_view* table = nullptr;
  if (const config::node* t = r.required("table")) {
    if (auto name = config::read_string(*t, diag, "enrich.table")) {
      table = ctx.tables ? ctx.tables->find_table(*name) : nullptr;
      if (!table) {
        std::string known = ctx.tables ? ctx.tables->names() : std::string();
        diag.error(t->at, "unknown table '" + *name + "' (" +
                              (known.empty() ? std::string("no tables are declared in 'tables:'")
                                             : "declared: " + known) +
                              ")");
      }
    }
  }
  std::optional<expr::expression> key;
  if (const config::node* k = r.required("key")) {
    key = compile_expression(*k, diag, "enrich.key", ctx.tables);
  }
  std::vector<copied_field> fields;
  if (const config::node* f = r.optional("fields")) {
    if (!f->is_map() || f->entries.empty()) {
      diag.error(f->at,
                 "enrich.fields must be a map of record field to table field, such as "
                 "{merchant_category: category}");
    } else {
      for (const auto& e : f->entries) {
        auto to = read_field_path(e.key, diag, "enrich.fields");
        auto from = read_field_path(e.val, diag, "enrich.fields '" + e.key.scalar + "'");
        if (to && from) fields.push_back(copied_field{std::move(*to), std::move(*from)});
      }
    }
  }
  on_miss miss = on_miss::keep;
  if (const config::node* m = r.optional("on_miss")) {
    if (auto s = config::read_string(*m, diag, "enrich.on_miss")) {
      if (*s == "keep") {
        miss = on_miss::keep;
      } else if (*s == "drop") {
        miss = on_miss::drop;
      } else if (*s == "dead_letter") {
        miss = on_miss::dead_letter;
      } else {
        diag.error(m->at, "enrich.on_miss must be keep, drop or dead_letter, found '" + *s + "'");
      }
    }
  }
  r.finish();
  if (diag.list().size() != problems_before || !table || !key) return nullptr;
  auto& misses = ctx.metrics.add_counter(
      "weir_enrich_misses_total",
      "Records an enrich step found no table row for (kept, dropped or failed by on_miss).",
      metrics::labels{{"pipeline", ctx.pipeline.name}, {"step", spec.name}});
  return std::make_unique<enrich_step>(spec.name, *table, std::move(*key), std::move(fields), miss,
                                       misses);
}

}  // namespace weir::ops
