#include "expr/lookup.h"

#include <string>

#include "weir/core/json.h"

namespace weir::expr {
namespace {

// lookup("table", key) bound to its table: evaluates the key and reads the
// row. Not folded at compile time: the table changes while the pipeline runs.
struct lookup_node final : node {
  lookup_node(const table_view& t, node_ptr k) : node(type::object), table(t), key(std::move(k)) {}

  eval_result eval(const scope& s, core::value& tmp) const override {
    core::value key_tmp;
    auto k = key->eval(s, key_tmp);
    if (!k) return k;
    std::string buf;
    auto text = table_key(**k, buf);
    if (!text) return &null_value;
    auto row = table.find(*text, tmp);
    if (!row) return std::move(row).err();
    return *row ? *row : &null_value;
  }

  const table_view& table;
  node_ptr key;
};

}  // namespace

std::optional<std::string_view> table_key(const core::value& v, std::string& buf) {
  switch (v.type()) {
    case core::value::kind::null:
      return std::nullopt;
    case core::value::kind::string:
      return std::string_view(v.as_string());
    case core::value::kind::number:
      buf.clear();
      core::write_json_number(v.as_number(), buf);
      return std::string_view(buf);
    case core::value::kind::boolean:
      return std::string_view(v.as_bool() ? "true" : "false");
    default:
      buf.clear();
      core::write_json(v, buf);
      return std::string_view(buf);
  }
}

build_result build_lookup(const function_def&, type, std::vector<node_ptr> args,
                          const compile_env& env) {
  // The checker made sure that the first argument is a string literal.
  const std::string& name = args[0]->constant()->as_string();
  const table_view* t = env.tables ? env.tables->find_table(name) : nullptr;
  if (!t) {
    std::string known = env.tables ? env.tables->names() : std::string();
    return build_error{0, "unknown table '" + name + "' (" +
                              (known.empty() ? std::string("no tables are declared in 'tables:'")
                                             : "declared: " + known) +
                              ")"};
  }
  return std::make_unique<lookup_node>(*t, std::move(args[1]));
}

}  // namespace weir::expr
