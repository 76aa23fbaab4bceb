#include "expr/parser.h"

#include <algorithm>
#include <string>
#include <utility>

namespace weir::expr {

namespace {

// Binding strength, lowest first. `not` and unary `-` are prefix operators.
constexpr int prec_coalesce = 1;
constexpr int prec_or = 2;
constexpr int prec_and = 3;
constexpr int prec_not = 4;
constexpr int prec_compare = 5;
constexpr int prec_add = 6;
constexpr int prec_mul = 7;
constexpr int prec_unary = 8;

// Deep enough for any hand-written expression, shallow enough for the stack:
// the parser's own recursion, and the height of the tree the later passes and
// the evaluator recurse over.
constexpr int max_depth = 200;
constexpr std::uint32_t max_height = 1000;

struct binary_op {
  op oper;
  int prec;
  int tokens;  // `not in` spans two
};

struct meta_name {
  std::string_view name;
  meta_field field;
};
constexpr meta_name meta_names[] = {{"key", meta_field::key},
                                    {"timestamp", meta_field::timestamp},
                                    {"topic", meta_field::topic},
                                    {"partition", meta_field::partition},
                                    {"offset", meta_field::offset}};

// Recursive descent with precedence climbing over a token list; one per parse
// call, on the compiling thread. Stops at the first error, which it keeps;
// every parse function then returns null.
class parser {
 public:
  parser(std::string_view src, std::vector<token> tokens) : src_(src), tokens_(std::move(tokens)) {}

  std::variant<std::unique_ptr<ast>, syntax_error> whole() {
    auto e = expression(prec_coalesce);
    if (e && cur().kind != token_kind::end) unexpected();
    return finish(std::move(e));
  }

  std::variant<std::unique_ptr<ast>, syntax_error> call_only() {
    std::unique_ptr<ast> e;
    if (cur().kind != token_kind::identifier) {
      fail(cur().offset, "expected a call such as 'count()'");
    } else if (peek().kind != token_kind::lparen) {
      fail(peek().offset, "expected '(' after '" + cur().text + "'");
    } else {
      e = call();
      if (e && cur().kind != token_kind::end) unexpected();
    }
    return finish(std::move(e));
  }

 private:
  std::variant<std::unique_ptr<ast>, syntax_error> finish(std::unique_ptr<ast> e) {
    if (error_) return std::move(*error_);
    return e;
  }

  const token& cur() const noexcept { return tokens_[pos_]; }
  const token& peek() const noexcept {
    return tokens_[pos_ + 1 < tokens_.size() ? pos_ + 1 : pos_];
  }
  const token& advance() noexcept {
    const token& t = tokens_[pos_];
    if (t.kind != token_kind::end) {
      prev_end_ = t.offset + t.length;
      ++pos_;
    }
    return t;
  }

  std::unique_ptr<ast> fail(std::size_t offset, std::string message) {
    if (!error_) error_ = syntax_error{offset, std::move(message)};
    return nullptr;
  }

  std::unique_ptr<ast> unexpected() {
    const token& t = cur();
    if (t.kind == token_kind::end) return fail(t.offset, "unexpected end of expression");
    std::string text(src_.substr(t.offset, t.length));
    if (text.size() > 24) text = text.substr(0, 21) + "...";
    return fail(t.offset, "unexpected '" + text + "'");
  }

  std::unique_ptr<ast> expect_close(token_kind close, const char* close_text, const char* open_text,
                                    std::size_t open_offset) {
    if (cur().kind == close) {
      advance();
      return nullptr;
    }
    return fail(cur().offset, std::string("expected '") + close_text + "' to close '" + open_text +
                                  "' at " + std::to_string(open_offset));
  }

  std::unique_ptr<ast> make(ast_kind kind, const token& at) {
    auto n = std::make_unique<ast>();
    n->kind = kind;
    n->offset = at.offset;
    n->begin = at.offset;
    n->end = at.offset + at.length;
    return n;
  }

  // Sets n's height from its children; fails if the tree gets too tall.
  std::unique_ptr<ast> grow(std::unique_ptr<ast> n) {
    std::uint32_t h = 0;
    for (const auto& c : n->children) h = std::max(h, c->height);
    n->height = h + 1;
    if (n->height > max_height) return fail(n->offset, "expression nested too deeply");
    return n;
  }

  std::optional<binary_op> binary_here() const noexcept {
    switch (cur().kind) {
      case token_kind::coalesce:
        return binary_op{op::coalesce, prec_coalesce, 1};
      case token_kind::kw_or:
        return binary_op{op::logical_or, prec_or, 1};
      case token_kind::kw_and:
        return binary_op{op::logical_and, prec_and, 1};
      case token_kind::eq:
        return binary_op{op::eq, prec_compare, 1};
      case token_kind::ne:
        return binary_op{op::ne, prec_compare, 1};
      case token_kind::lt:
        return binary_op{op::lt, prec_compare, 1};
      case token_kind::le:
        return binary_op{op::le, prec_compare, 1};
      case token_kind::gt:
        return binary_op{op::gt, prec_compare, 1};
      case token_kind::ge:
        return binary_op{op::ge, prec_compare, 1};
      case token_kind::kw_in:
        return binary_op{op::in, prec_compare, 1};
      case token_kind::kw_not:
        if (peek().kind == token_kind::kw_in) return binary_op{op::not_in, prec_compare, 2};
        return std::nullopt;
      case token_kind::plus:
        return binary_op{op::add, prec_add, 1};
      case token_kind::minus:
        return binary_op{op::sub, prec_add, 1};
      case token_kind::star:
        return binary_op{op::mul, prec_mul, 1};
      case token_kind::slash:
        return binary_op{op::div, prec_mul, 1};
      case token_kind::percent:
        return binary_op{op::mod, prec_mul, 1};
      default:
        return std::nullopt;
    }
  }

  // Parses operators binding at least as tightly as `min_prec`. Binary
  // operators are left-associative, except comparisons, which do not chain.
  std::unique_ptr<ast> expression(int min_prec) {
    struct depth_guard {
      int& d;
      ~depth_guard() { --d; }
    } guard{++depth_};
    if (depth_ > max_depth) return fail(cur().offset, "expression nested too deeply");

    auto lhs = prefix(min_prec);
    bool lhs_compares = false;
    while (lhs) {
      const auto b = binary_here();
      if (!b || b->prec < min_prec) break;
      if (lhs_compares && is_comparison(b->oper)) {
        return fail(cur().offset, "comparisons cannot be chained; combine them with 'and'");
      }
      const token& at = cur();
      for (int i = 0; i < b->tokens; ++i) advance();
      auto rhs = expression(b->prec + 1);
      if (!rhs) return nullptr;
      auto n = make(ast_kind::binary, at);
      n->oper = b->oper;
      n->begin = lhs->begin;
      n->end = rhs->end;
      n->children.push_back(std::move(lhs));
      n->children.push_back(std::move(rhs));
      lhs = grow(std::move(n));
      lhs_compares = is_comparison(b->oper);
    }
    return lhs;
  }

  std::unique_ptr<ast> prefix(int min_prec) {
    const token& at = cur();
    if (at.kind == token_kind::kw_not) {
      if (min_prec > prec_not) {
        return fail(at.offset, "'not' needs parentheses here, as in a == (not b)");
      }
      advance();
      return unary(op::logical_not, at, expression(prec_not));
    }
    if (at.kind == token_kind::minus) {
      advance();
      return unary(op::neg, at, expression(prec_unary));
    }
    return postfix();
  }

  std::unique_ptr<ast> unary(op o, const token& at, std::unique_ptr<ast> operand) {
    if (!operand) return nullptr;
    auto n = make(ast_kind::unary, at);
    n->oper = o;
    n->end = operand->end;
    n->children.push_back(std::move(operand));
    return grow(std::move(n));
  }

  std::unique_ptr<ast> postfix() {
    auto base = primary();
    while (base) {
      const token& at = cur();
      if (at.kind == token_kind::dot) {
        advance();
        const token& name = cur();
        if (name.kind != token_kind::identifier && !is_keyword(name.kind)) {
          return fail(name.offset, "expected a field name after '.'");
        }
        advance();
        auto n = make(ast_kind::member, name);
        n->name = name.kind == token_kind::identifier
                      ? name.text
                      : std::string(src_.substr(name.offset, name.length));
        n->begin = base->begin;
        n->children.push_back(std::move(base));
        base = grow(std::move(n));
      } else if (at.kind == token_kind::lbracket) {
        advance();
        auto index = expression(prec_coalesce);
        if (!index) return nullptr;
        if (!error_) expect_close(token_kind::rbracket, "]", "[", at.offset);
        if (error_) return nullptr;
        auto n = make(ast_kind::index, at);
        n->begin = base->begin;
        n->end = prev_end_;
        n->children.push_back(std::move(base));
        n->children.push_back(std::move(index));
        base = grow(std::move(n));
      } else if (at.kind == token_kind::lparen) {
        return fail(at.offset, "only a function name can be called");
      } else {
        break;
      }
    }
    return base;
  }

  std::unique_ptr<ast> primary() {
    const token& t = cur();
    switch (t.kind) {
      case token_kind::number:
      case token_kind::string:
      case token_kind::kw_true:
      case token_kind::kw_false:
      case token_kind::kw_null: {
        auto n = make(ast_kind::literal, t);
        if (t.kind == token_kind::number) n->literal = t.number;
        if (t.kind == token_kind::string) n->literal = t.text;
        if (t.kind == token_kind::kw_true) n->literal = true;
        if (t.kind == token_kind::kw_false) n->literal = false;
        advance();
        return n;
      }
      case token_kind::lbracket:
        return list();
      case token_kind::lparen: {
        advance();
        auto inner = expression(prec_coalesce);
        if (!inner) return nullptr;
        expect_close(token_kind::rparen, ")", "(", t.offset);
        if (error_) return nullptr;
        inner->begin = t.offset;
        inner->end = prev_end_;
        return inner;
      }
      case token_kind::identifier: {
        if (peek().kind == token_kind::lparen) return call();
        auto n = make(ast_kind::field, t);
        n->name = t.text;
        advance();
        return n;
      }
      case token_kind::metadata:
        return metadata();
      default:
        return unexpected();
    }
  }

  std::unique_ptr<ast> list() {
    const token& open = cur();
    advance();
    auto n = make(ast_kind::list, open);
    if (cur().kind != token_kind::rbracket) {
      while (true) {
        auto e = expression(prec_coalesce);
        if (!e) return nullptr;
        n->children.push_back(std::move(e));
        if (cur().kind != token_kind::comma) break;
        advance();
      }
    }
    expect_close(token_kind::rbracket, "]", "[", open.offset);
    if (error_) return nullptr;
    n->end = prev_end_;
    return grow(std::move(n));
  }

  // At `name (`: the call and its arguments.
  std::unique_ptr<ast> call() {
    const token& name = cur();
    auto n = make(ast_kind::call, name);
    n->name = name.text;
    advance();
    const token& open = cur();
    advance();
    if (cur().kind != token_kind::rparen) {
      while (true) {
        auto e = expression(prec_coalesce);
        if (!e) return nullptr;
        n->children.push_back(std::move(e));
        if (cur().kind != token_kind::comma) break;
        advance();
      }
    }
    expect_close(token_kind::rparen, ")", "(", open.offset);
    if (error_) return nullptr;
    n->end = prev_end_;
    return grow(std::move(n));
  }

  std::unique_ptr<ast> metadata() {
    const token& t = cur();
    advance();
    if (t.text == "value") return make(ast_kind::root, t);
    for (const auto& m : meta_names) {
      if (m.name == t.text) {
        auto n = make(ast_kind::meta, t);
        n->meta = m.field;
        return n;
      }
    }
    if (t.text != "headers") return fail(t.offset, "unknown metadata '$" + t.text + "'");
    auto n = make(ast_kind::header, t);
    const token& sep = cur();
    if (sep.kind == token_kind::dot &&
        (peek().kind == token_kind::identifier || is_keyword(peek().kind))) {
      advance();
      n->name = std::string(src_.substr(cur().offset, cur().length));
      advance();
    } else if (sep.kind == token_kind::lbracket && peek().kind == token_kind::string) {
      advance();
      n->name = cur().text;
      advance();
      expect_close(token_kind::rbracket, "]", "[", sep.offset);
      if (error_) return nullptr;
    } else {
      return fail(sep.offset, "expected a header name after '$headers', as in $headers.NAME");
    }
    n->end = prev_end_;
    return n;
  }

  std::string_view src_;
  std::vector<token> tokens_;
  std::size_t pos_ = 0;
  std::size_t prev_end_ = 0;  // end offset of the last consumed token
  int depth_ = 0;
  std::optional<syntax_error> error_;
};

template <class F>
std::variant<std::unique_ptr<ast>, syntax_error> run(std::string_view source, F&& f) {
  auto tokens = tokenize(source);
  if (auto* e = std::get_if<syntax_error>(&tokens)) return std::move(*e);
  parser p(source, std::get<std::vector<token>>(std::move(tokens)));
  return f(p);
}

}  // namespace

std::variant<std::unique_ptr<ast>, syntax_error> parse(std::string_view source) {
  return run(source, [](parser& p) { return p.whole(); });
}

std::variant<std::unique_ptr<ast>, syntax_error> parse_call(std::string_view source) {
  return run(source, [](parser& p) { return p.call_only(); });
}

}  // namespace weir::expr
