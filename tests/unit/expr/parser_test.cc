#include <catch2/catch.hpp>

#include <string>

#include "expr/lexer.h"
#include "expr/parser.h"
#include "harness.h"

using namespace weir::expr;
using weir::expr::testing::compile_error;
using weir::expr::testing::run;

namespace {

// The tree as an s-expression: "(+ 1 (* 2 3))".
std::string show(const ast& n) {
  auto kids = [&](std::string head) {
    std::string out = "(" + head;
    for (const auto& c : n.children) out += " " + show(*c);
    return out + ")";
  };
  switch (n.kind) {
    case ast_kind::literal:
      return weir::core::to_json(n.literal);
    case ast_kind::list:
      return kids("list");
    case ast_kind::field:
      return n.name;
    case ast_kind::root:
      return "$value";
    case ast_kind::meta: {
      const char* names[] = {"$key", "$timestamp", "$topic", "$partition", "$offset"};
      return names[static_cast<int>(n.meta)];
    }
    case ast_kind::header:
      return "$headers[" + n.name + "]";
    case ast_kind::member:
      return "(. " + show(*n.children[0]) + " " + n.name + ")";
    case ast_kind::index:
      return kids("[]");
    case ast_kind::call:
      return kids(n.name);
    case ast_kind::unary:
      return kids(n.oper == op::neg ? "neg" : op_name(n.oper));
    case ast_kind::binary:
      return kids(op_name(n.oper));
  }
  return "?";
}

std::string tree(std::string_view source) {
  auto parsed = parse(source);
  if (auto* e = std::get_if<syntax_error>(&parsed)) {
    return std::to_string(e->offset) + ": " + e->message;
  }
  return show(*std::get<std::unique_ptr<ast>>(parsed));
}

}  // namespace

TEST_CASE("lexer: kinds, offsets and lengths") {
  auto tokens = tokenize(R"(a.b >= 10 ?? 'x' not in $key)");
  REQUIRE(std::holds_alternative<std::vector<token>>(tokens));
  const auto& t = std::get<std::vector<token>>(tokens);
  REQUIRE(t.size() == 11);
  CHECK(t[0].kind == token_kind::identifier);
  CHECK(t[0].text == "a");
  CHECK(t[1].kind == token_kind::dot);
  CHECK(t[3].kind == token_kind::ge);
  CHECK(t[3].offset == 4);
  CHECK(t[3].length == 2);
  CHECK(t[4].kind == token_kind::number);
  CHECK(t[4].number == 10.0);
  CHECK(t[5].kind == token_kind::coalesce);
  CHECK(t[6].kind == token_kind::string);
  CHECK(t[6].text == "x");
  CHECK(t[6].offset == 13);
  CHECK(t[6].length == 3);
  CHECK(t[7].kind == token_kind::kw_not);
  CHECK(t[8].kind == token_kind::kw_in);
  CHECK(t[9].kind == token_kind::metadata);
  CHECK(t[9].text == "key");
  CHECK(t[10].kind == token_kind::end);
  CHECK(t[10].offset == 28);
}

TEST_CASE("parser: precedence from ?? (lowest) to postfix (highest)") {
  CHECK(tree("1 + 2 * 3") == "(+ 1 (* 2 3))");
  CHECK(tree("(1 + 2) * 3") == "(* (+ 1 2) 3)");
  CHECK(tree("1 - 2 - 3") == "(- (- 1 2) 3)");
  CHECK(tree("a % b / c * d") == "(* (/ (% a b) c) d)");
  CHECK(tree("a + b < c * d") == "(< (+ a b) (* c d))");
  CHECK(tree("a ?? b or c") == "(?? a (or b c))");
  CHECK(tree("a ?? b ?? c") == "(?? (?? a b) c)");
  CHECK(tree("a or b and c") == "(or a (and b c))");
  CHECK(tree("a and b or c and d") == "(or (and a b) (and c d))");
  CHECK(tree("not a == b") == "(not (== a b))");
  CHECK(tree("not a and b") == "(and (not a) b)");
  CHECK(tree("a and not b or c") == "(or (and a (not b)) c)");
  CHECK(tree("not not a") == "(not (not a))");
  CHECK(tree("-a * b") == "(* (neg a) b)");
  CHECK(tree("- -a") == "(neg (neg a))");
  CHECK(tree("-a.b") == "(neg (. a b))");
  CHECK(tree("a - -1") == "(- a (neg 1))");
  CHECK(tree("x in [1, 2] and y not in z") == "(and (in x (list 1 2)) (not in y z))");
  CHECK(tree("a + 1 in b") == "(in (+ a 1) b)");
  CHECK(tree("a == b ?? c") == "(?? (== a b) c)");
  CHECK(tree("(a < b) < c") == "(< (< a b) c)");
}

TEST_CASE("parser: literal forms") {
  CHECK(tree("0") == "0");
  CHECK(tree("42") == "42");
  CHECK(tree("007") == "7");
  CHECK(tree("1.5") == "1.5");
  CHECK(tree("1e3") == "1000");
  CHECK(tree("2.5E-1") == "0.25");
  CHECK(tree("1e+2") == "100");
  CHECK(tree("true") == "true");
  CHECK(tree("false") == "false");
  CHECK(tree("null") == "null");
  CHECK(tree("[]") == "(list)");
  CHECK(tree(R"([1, "a", [true]])") == R"((list 1 "a" (list true)))");
  CHECK(tree(R"("plain")") == R"("plain")");
  CHECK(tree(R"('single')") == R"("single")");
  CHECK(tree(R"('say "hi"')") == R"("say \"hi\"")");
  CHECK(tree(R"("a\"b")") == R"("a\"b")");
  CHECK(tree(R"('it\'s')") == R"("it's")");
  CHECK(tree(R"("back\\slash")") == R"("back\\slash")");
  CHECK(tree(R"("\n\t\r\/")") == R"("\n\t\r/")");
  CHECK(tree(R"("\u00e9")") == "\"\xC3\xA9\"");
  CHECK(tree(R"("\u20AC")") == "\"\xE2\x82\xAC\"");
  CHECK(tree(R"("\ud83d\ude00")") == "\"\xF0\x9F\x98\x80\"");
  CHECK(tree("\"caf\xC3\xA9\"") == "\"caf\xC3\xA9\"");
}

TEST_CASE("parser: paths, metadata and calls") {
  CHECK(tree("a.b.c") == "(. (. a b) c)");
  CHECK(tree(R"(a["odd key"][0])") == R"(([] ([] a "odd key") 0))");
  CHECK(tree("a[i + 1]") == "([] a (+ i 1))");
  CHECK(tree("a.in.null") == "(. (. a in) null)");
  CHECK(tree("_x1.Y_2") == "(. _x1 Y_2)");
  CHECK(tree("lower(a).b") == "(. (lower a) b)");
  CHECK(tree("f()") == "(f)");
  CHECK(tree("f(a, b + 1, g(c))") == "(f a (+ b 1) (g c))");
  CHECK(tree("(a ?? b).c") == "(. (?? a b) c)");
  CHECK(tree("$key") == "$key");
  CHECK(tree("$timestamp") == "$timestamp");
  CHECK(tree("$topic") == "$topic");
  CHECK(tree("$partition") == "$partition");
  CHECK(tree("$offset") == "$offset");
  CHECK(tree("$headers.trace") == "$headers[trace]");
  CHECK(tree(R"($headers["content-type"])") == "$headers[content-type]");
  CHECK(tree(R"($value["user-id"].x)") == R"((. ([] $value "user-id") x))");
}

TEST_CASE("parser: syntax errors with exact offsets") {
  CHECK(tree("") == "0: unexpected end of expression");
  CHECK(tree("   ") == "3: unexpected end of expression");
  CHECK(tree("1 +") == "3: unexpected end of expression");
  CHECK(tree("(1 + 2") == "6: expected ')' to close '(' at 0");
  CHECK(tree("(1 + 2 3") == "7: expected ')' to close '(' at 0");
  CHECK(tree("x * (a + b") == "10: expected ')' to close '(' at 4");
  CHECK(tree("f(1, 2") == "6: expected ')' to close '(' at 1");
  CHECK(tree("f(1 2)") == "4: expected ')' to close '(' at 1");
  CHECK(tree("f(1,)") == "4: unexpected ')'");
  CHECK(tree("[1, 2") == "5: expected ']' to close '[' at 0");
  CHECK(tree("[1, 2,]") == "6: unexpected ']'");
  CHECK(tree("a[0") == "3: expected ']' to close '[' at 1");
  CHECK(tree("a b") == "2: unexpected 'b'");
  CHECK(tree("a )") == "2: unexpected ')'");
  CHECK(tree("1 2") == "2: unexpected '2'");
  CHECK(tree(R"(a "a very long string literal here")") ==
        R"(2: unexpected '"a very long string l...')");
  CHECK(tree("in") == "0: unexpected 'in'");
  CHECK(tree("and b") == "0: unexpected 'and'");
  CHECK(tree("a < b < c") == "6: comparisons cannot be chained; combine them with 'and'");
  CHECK(tree("a == b != c") == "7: comparisons cannot be chained; combine them with 'and'");
  CHECK(tree("a in b in c") == "7: comparisons cannot be chained; combine them with 'and'");
  CHECK(tree("a < b not in c") == "6: comparisons cannot be chained; combine them with 'and'");
  CHECK(tree("a == not b") == "5: 'not' needs parentheses here, as in a == (not b)");
  CHECK(tree("-not a") == "1: 'not' needs parentheses here, as in a == (not b)");
  CHECK(tree("a.") == "2: expected a field name after '.'");
  CHECK(tree("a.1") == "2: expected a field name after '.'");
  CHECK(tree("a.b(1)") == "3: only a function name can be called");
  CHECK(tree("(f)(1)") == "3: only a function name can be called");
  CHECK(tree("$") == "0: expected a metadata name after '$'");
  CHECK(tree("$ key") == "0: expected a metadata name after '$'");
  CHECK(tree("x + $foo") == "4: unknown metadata '$foo'");
  CHECK(tree("$headers") == "8: expected a header name after '$headers', as in $headers.NAME");
  CHECK(tree("$headers[1]") == "8: expected a header name after '$headers', as in $headers.NAME");
  CHECK(tree(R"($headers["a")") == "12: expected ']' to close '[' at 8");
}

TEST_CASE("lexer: errors with exact offsets") {
  CHECK(tree(R"("abc)") == "0: unterminated string");
  CHECK(tree(R"(x == 'abc)") == "5: unterminated string");
  CHECK(tree(R"("abc\)") == "0: unterminated string");
  CHECK(tree(R"(x == "a\qb")") == "7: invalid escape '\\q'");
  CHECK(tree(R"("\u12")") == "1: expected four hex digits after '\\u'");
  CHECK(tree(R"("\ud800")") == "1: unpaired surrogate in '\\u' escape");
  CHECK(tree(R"("\ud800\u0041")") == "1: unpaired surrogate in '\\u' escape");
  CHECK(tree(R"("\udc00")") == "1: unpaired surrogate in '\\u' escape");
  CHECK(tree("a = 1") == "2: unexpected '=' (use '==' to compare)");
  CHECK(tree("!a") == "0: unexpected '!' (use 'not')");
  CHECK(tree("a && b") == "2: unexpected '&' (use 'and')");
  CHECK(tree("a || b") == "2: unexpected '|' (use 'or')");
  CHECK(tree("a ? b") == "2: unexpected '?' (use '?\?' for the first non-null value)");
  CHECK(tree("a # b") == "2: unexpected character '#'");
  CHECK(tree("\xC3\xA9") == "0: unexpected byte 0xC3");
  CHECK(tree("1a") == "1: unexpected 'a' after a number");
  CHECK(tree("1.") == "1: expected a digit after '.'");
  CHECK(tree("1.x") == "1: expected a digit after '.'");
  CHECK(tree("1e") == "1: expected digits after the exponent 'e'");
  CHECK(tree("1e+") == "1: expected digits after the exponent 'e'");
  CHECK(tree("x + 1e999") == "4: number out of range");
}

TEST_CASE("parser: nesting is bounded") {
  std::string deep(300, '(');
  deep += "1";
  deep += std::string(300, ')');
  CHECK(tree(deep).ends_with(": expression nested too deeply"));
  std::string tall = "a";
  for (int i = 0; i < 1500; ++i) tall += " + a";
  CHECK(tree(tall) == "3998: expression nested too deeply");
  std::string fine(150, '(');
  fine += "1";
  fine += std::string(150, ')');
  CHECK(run(fine) == "1");
}

TEST_CASE("parser: keywords are reserved except after '.'") {
  CHECK(compile_error("true.x") == "compiled");
  CHECK(compile_error("null") == "compiled");
  CHECK(compile_error("a.not") == "compiled");
  CHECK(compile_error("or") == "0: unexpected 'or'");
  CHECK(compile_error("not") == "3: unexpected end of expression");
}
