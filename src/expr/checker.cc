#include "expr/checker.h"

#include <string>
#include <vector>

#include "expr/functions.h"
#include "expr/types.h"

namespace weir::expr {
namespace {

// A static type that may turn out to be anything at run time (or null, which
// every operator accepts) is never an error here.
bool open(type t) noexcept {
  return t == type::any || t == type::null;
}
bool accepts(type_mask m, type t) noexcept {
  return open(t) || (m & mask_of(t)) != 0;
}

std::string operator_text(op o) {
  return std::string("operator '") + op_name(o) + "'";
}

std::string plural(std::size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string arity_message(const function_def& f, std::size_t got) {
  std::string out = "function '" + std::string(f.name) + "' takes ";
  if (f.max_args == unlimited_args) {
    out += "at least " + plural(f.min_args, "argument");
  } else if (f.min_args == f.max_args) {
    out += plural(f.min_args, "argument");
  } else {
    out += std::to_string(f.min_args) + " or " + plural(f.max_args, "argument");
  }
  return out + ", got " + std::to_string(got);
}

// Runs bottom-up over one tree on the compiling thread; keeps the first error
// and stops there.
class checker {
 public:
  std::optional<syntax_error> error;

  void visit(ast& n) {
    for (auto& c : n.children) {
      visit(*c);
      if (error) return;
    }
    n.static_type = infer(n);
  }

 private:
  type fail(std::size_t offset, std::string message) {
    if (!error) error = syntax_error{offset, std::move(message)};
    return type::any;
  }

  type infer(ast& n) {
    switch (n.kind) {
      case ast_kind::literal:
        return type_of(n.literal);
      case ast_kind::list:
        return type::array;
      case ast_kind::field:
      case ast_kind::root:
      case ast_kind::member:
        return type::any;
      case ast_kind::index: {
        const ast& i = *n.children[1];
        if (!accepts(num | str, i.static_type)) {
          return fail(i.begin, needs_message("index", "a number or a string", i.static_type));
        }
        return type::any;
      }
      case ast_kind::meta:
        return n.meta == meta_field::key || n.meta == meta_field::topic ? type::string
                                                                        : type::number;
      case ast_kind::header:
        return type::string;
      case ast_kind::call:
        return infer_call(n);
      case ast_kind::unary:
        return infer_unary(n);
      case ast_kind::binary:
        return infer_binary(n);
    }
    return type::any;
  }

  type infer_call(ast& n) {
    const function_def* f = find_function(n.name);
    if (!f) return fail(n.offset, unknown_function_message(n.name));
    const std::size_t argc = n.children.size();
    if (argc < f->min_args || argc > f->max_args) return fail(n.offset, arity_message(*f, argc));
    std::vector<type> types;
    types.reserve(argc);
    type seen = type::null;  // for same_type_args: the first known type
    bool any_null = false;
    for (std::size_t i = 0; i < argc; ++i) {
      const ast& a = *n.children[i];
      const type t = a.static_type;
      if (!accepts(f->param(i), t)) {
        return fail(a.begin, arg_message(f->name, i, f->max_args, f->param(i), t));
      }
      if (f->needs_literal(i) && (a.kind != ast_kind::literal || !a.literal.is_string())) {
        return fail(a.begin, "function '" + std::string(f->name) +
                                 "' needs a string literal as argument " + std::to_string(i + 1));
      }
      if (f->check_literal && a.kind == ast_kind::literal) {
        if (std::string why = f->check_literal(i, a.literal); !why.empty()) {
          return fail(a.begin, "function '" + std::string(f->name) + "': " + why);
        }
      }
      if (f->same_type_args && !open(t)) {
        if (seen != type::null && seen != t) {
          return fail(a.begin, "function '" + std::string(f->name) + "' cannot compare " +
                                   type_name(seen) + " with " + type_name(t));
        }
        seen = t;
      }
      any_null = any_null || t == type::null;
      types.push_back(t);
    }
    if (f->null_in_null_out && any_null) return type::null;
    return f->result(types);
  }

  type infer_unary(ast& n) {
    const ast& x = *n.children[0];
    const type t = x.static_type;
    if (n.oper == op::logical_not) {
      if (!accepts(boolean, t))
        return fail(n.offset, needs_message("operator 'not'", "a boolean", t));
      return t == type::null ? type::null : type::boolean;
    }
    if (!accepts(num, t)) return fail(n.offset, needs_message("operator '-'", "a number", t));
    return t == type::null ? type::null : type::number;
  }

  type infer_binary(ast& n) {
    const type a = n.children[0]->static_type;
    const type b = n.children[1]->static_type;
    const std::string what = operator_text(n.oper);
    switch (n.oper) {
      case op::coalesce:
        return a == type::null ? b : join(a, b);
      case op::logical_or:
      case op::logical_and:
        for (type t : {a, b}) {
          if (!accepts(boolean, t)) return fail(n.offset, needs_message(what, "booleans", t));
        }
        return type::boolean;
      case op::eq:
      case op::ne:
        return type::boolean;
      case op::lt:
      case op::le:
      case op::gt:
      case op::ge:
        for (type t : {a, b}) {
          if (!accepts(num | str, t)) {
            return fail(n.offset, needs_message(what, "numbers or strings", t));
          }
        }
        if (!open(a) && !open(b) && a != b) {
          return fail(n.offset, what + " cannot compare " + type_name(a) + " with " + type_name(b));
        }
        return type::boolean;
      case op::in:
      case op::not_in:
        if (!accepts(mask_of(type::array), b)) {
          return fail(n.offset, needs_message(what, "an array on the right", b));
        }
        return type::boolean;
      case op::add:
        for (type t : {a, b}) {
          if (!accepts(num | str, t)) {
            return fail(n.offset, needs_message(what, "numbers or strings", t));
          }
        }
        if (a == type::null || b == type::null) return type::null;
        if (!open(a) && !open(b) && a != b) {
          return fail(n.offset, what + " needs two numbers or two strings, got " + type_name(a) +
                                    " and " + type_name(b));
        }
        return a == type::any ? b : a;
      case op::sub:
      case op::mul:
      case op::div:
      case op::mod:
        for (type t : {a, b}) {
          if (!accepts(num, t)) return fail(n.offset, needs_message(what, "numbers", t));
        }
        return a == type::null || b == type::null ? type::null : type::number;
      default:
        break;
    }
    return type::any;
  }

  static constexpr type_mask num = mask_of(type::number);
  static constexpr type_mask str = mask_of(type::string);
  static constexpr type_mask boolean = mask_of(type::boolean);
};

}  // namespace

std::optional<syntax_error> check(ast& root) {
  checker c;
  c.visit(root);
  return c.error;
}

}  // namespace weir::expr
