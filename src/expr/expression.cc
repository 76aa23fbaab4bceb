#include "weir/expr/expression.h"

#include "expr/checker.h"
#include "expr/compiler.h"
#include "expr/node.h"
#include "expr/parser.h"

namespace weir::expr {
namespace {

std::variant<std::shared_ptr<const node>, syntax_error> build(ast& tree,
                                                              const table_catalog* tables) {
  if (auto e = check(tree)) return std::move(*e);
  auto root = compile_tree(tree, compile_env{tables});
  if (auto* e = std::get_if<syntax_error>(&root)) return std::move(*e);
  return std::shared_ptr<const node>(std::get<node_ptr>(std::move(root)));
}

}  // namespace

std::variant<expression, syntax_error> expression::compile(std::string_view source,
                                                           const table_catalog* tables) {
  auto parsed = parse(source);
  if (auto* e = std::get_if<syntax_error>(&parsed)) return std::move(*e);
  auto root = build(*std::get<std::unique_ptr<ast>>(parsed), tables);
  if (auto* e = std::get_if<syntax_error>(&root)) return std::move(*e);
  return expression(std::get<std::shared_ptr<const node>>(std::move(root)), std::string(source));
}

core::result<const core::value*> expression::eval_ref(const scope& s, core::value& scratch) const {
  return root_->eval(s, scratch);
}

core::result<core::value> expression::eval(const scope& s) const {
  core::value tmp;
  auto r = root_->eval(s, tmp);
  if (!r) return std::move(r).err();
  if (*r == &tmp) return tmp;
  return **r;
}

core::result<bool> expression::test(const scope& s) const {
  core::value tmp;
  auto r = root_->eval(s, tmp);
  if (!r) return std::move(r).err();
  const core::value& v = **r;
  if (v.is_bool()) return v.as_bool();
  if (v.is_null()) return false;
  return type_error(needs_message("a condition", "a boolean", type_of(v)));
}

type expression::static_type() const noexcept {
  return root_->static_type;
}

std::optional<std::string> expression::path_name() const {
  const auto* p = dynamic_cast<const path_node*>(root_.get());
  if (!p || p->base || p->segments.empty()) return std::nullopt;
  std::string out;
  for (const auto& seg : p->segments) {
    const auto* key = std::get_if<std::string>(&seg.step);
    if (!key) return std::nullopt;
    if (!out.empty()) out.push_back('.');
    out += *key;
  }
  return out;
}

std::variant<call, syntax_error> compile_call(std::string_view source,
                                              const table_catalog* tables) {
  auto parsed = parse_call(source);
  if (auto* e = std::get_if<syntax_error>(&parsed)) return std::move(*e);
  ast& tree = *std::get<std::unique_ptr<ast>>(parsed);
  call out;
  out.name = tree.name;
  for (auto& arg : tree.children) {
    auto root = build(*arg, tables);
    if (auto* e = std::get_if<syntax_error>(&root)) return std::move(*e);
    out.args.push_back(expression(std::get<std::shared_ptr<const node>>(std::move(root)),
                                  std::string(source.substr(arg->begin, arg->end - arg->begin))));
    out.arg_offsets.push_back(arg->begin);
  }
  return out;
}

}  // namespace weir::expr
