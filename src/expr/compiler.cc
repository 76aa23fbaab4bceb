#include "expr/compiler.h"

#include <cmath>
#include <optional>
#include <string>

#include "expr/functions.h"
#include "weir/core/json.h"

namespace weir::expr {
namespace {

// One pass over one AST on the compiling thread; keeps the first error.
class compiler {
 public:
  explicit compiler(const compile_env& env) : env_(env) {}
  std::optional<syntax_error> error;

  node_ptr build(const ast& n) {
    switch (n.kind) {
      case ast_kind::literal:
        return std::make_unique<literal_node>(n.literal);
      case ast_kind::list:
        return build_list(n);
      case ast_kind::field: {
        std::vector<path_segment> segs;
        segs.push_back(path_segment{n.name});
        return std::make_unique<path_node>(nullptr, std::move(segs));
      }
      case ast_kind::root:
        return std::make_unique<path_node>(nullptr, std::vector<path_segment>{});
      case ast_kind::member: {
        auto base = build(*n.children[0]);
        if (!base) return nullptr;
        return extend(std::move(base), path_segment{n.name}, n);
      }
      case ast_kind::index:
        return build_index(n);
      case ast_kind::meta:
        return std::make_unique<meta_node>(n.meta, n.static_type);
      case ast_kind::header:
        return std::make_unique<header_node>(n.name);
      case ast_kind::call:
        return build_call(n);
      case ast_kind::unary: {
        auto x = build(*n.children[0]);
        if (!x) return nullptr;
        const bool c = x->constant() != nullptr;
        return fold(std::make_unique<unary_node>(n.oper, n.static_type, std::move(x)), n, c);
      }
      case ast_kind::binary:
        return build_binary(n);
    }
    return nullptr;
  }

 private:
  node_ptr fail(std::size_t offset, std::string message) {
    if (!error) error = syntax_error{offset, std::move(message)};
    return nullptr;
  }

  // Evaluates a node whose operands are all constants, once, now.
  node_ptr fold(node_ptr n, const ast& at, bool operands_constant) {
    if (!operands_constant) return n;
    core::value tmp;
    auto r = n->eval(scope{}, tmp);
    if (!r) return fail(at.offset, r.err().message);
    if (*r == &tmp) return std::make_unique<literal_node>(std::move(tmp));
    return std::make_unique<literal_node>(**r);
  }

  // Adds one step to a path, or starts a path from any other expression.
  node_ptr extend(node_ptr base, path_segment seg, const ast& at) {
    if (auto* p = dynamic_cast<path_node*>(base.get())) {
      p->segments.push_back(std::move(seg));
      return base;
    }
    const bool c = base->constant() != nullptr;
    std::vector<path_segment> segs;
    segs.push_back(std::move(seg));
    return fold(std::make_unique<path_node>(std::move(base), std::move(segs)), at, c);
  }

  std::vector<node_ptr> build_all(const ast& n, bool& all_constant) {
    std::vector<node_ptr> out;
    all_constant = true;
    for (const auto& c : n.children) {
      auto x = build(*c);
      if (!x) return {};
      all_constant = all_constant && x->constant() != nullptr;
      out.push_back(std::move(x));
    }
    return out;
  }

  node_ptr build_list(const ast& n) {
    bool c = false;
    auto elements = build_all(n, c);
    if (error) return nullptr;
    return fold(std::make_unique<list_node>(std::move(elements)), n, c);
  }

  node_ptr build_index(const ast& n) {
    auto base = build(*n.children[0]);
    if (!base) return nullptr;
    auto index = build(*n.children[1]);
    if (!index) return nullptr;
    if (const core::value* k = index->constant()) {
      if (k->is_string()) return extend(std::move(base), path_segment{k->as_string()}, n);
      if (k->is_number()) {
        const double d = k->as_number();
        if (d != std::trunc(d) || std::fabs(d) >= 9007199254740992.0) {
          std::string text;
          core::write_json_number(d, text);
          return fail(n.children[1]->begin, "array index must be an integer, got " + text);
        }
        return extend(std::move(base), path_segment{static_cast<std::int64_t>(d)}, n);
      }
    }
    const bool c = base->constant() && index->constant();
    return fold(std::make_unique<index_node>(std::move(base), std::move(index)), n, c);
  }

  node_ptr build_call(const ast& n) {
    const function_def* f = find_function(n.name);
    if (!f) return fail(n.offset, unknown_function_message(n.name));
    bool c = false;
    auto args = build_all(n, c);
    if (error) return nullptr;
    if (!f->build) {
      auto call = std::make_unique<call_node>(*f, n.static_type, std::move(args));
      return fold(std::move(call), n, c && f->foldable);
    }
    build_result built = f->build(*f, n.static_type, std::move(args), env_);
    if (auto* e = std::get_if<build_error>(&built)) {
      return fail(n.children[e->arg]->begin, std::move(e->message));
    }
    return fold(std::get<node_ptr>(std::move(built)), n, c && f->foldable);
  }

  node_ptr build_binary(const ast& n) {
    auto l = build(*n.children[0]);
    if (!l) return nullptr;
    auto r = build(*n.children[1]);
    if (!r) return nullptr;
    const bool c = l->constant() && r->constant();
    node_ptr out;
    switch (n.oper) {
      case op::logical_and:
      case op::logical_or:
        out = std::make_unique<logical_node>(n.oper, std::move(l), std::move(r));
        break;
      case op::coalesce: {
        std::vector<node_ptr> operands;
        operands.push_back(std::move(l));
        operands.push_back(std::move(r));
        out = std::make_unique<coalesce_node>(n.static_type, std::move(operands));
        break;
      }
      default:
        out = std::make_unique<binary_node>(n.oper, n.static_type, std::move(l), std::move(r));
        break;
    }
    return fold(std::move(out), n, c);
  }

  const compile_env& env_;
};

}  // namespace

std::variant<node_ptr, syntax_error> compile_tree(const ast& checked, const compile_env& env) {
  compiler c(env);
  auto root = c.build(checked);
  if (c.error) return std::move(*c.error);
  return root;
}

}  // namespace weir::expr
