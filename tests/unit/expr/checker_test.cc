#include <catch2/catch.hpp>

#include "harness.h"

using weir::expr::type;
using weir::expr::testing::compile_error;
using weir::expr::testing::compile_ok;

namespace {
type type_of(std::string_view source) {
  return compile_ok(source).static_type();
}
}  // namespace

TEST_CASE("checker: operators given a type they never accept") {
  CHECK(compile_error(R"("a" - 1)") == "4: operator '-' needs numbers, got string");
  CHECK(compile_error(R"(1 - "a")") == "2: operator '-' needs numbers, got string");
  CHECK(compile_error("x * true") == "2: operator '*' needs numbers, got boolean");
  CHECK(compile_error("[1] / 2") == "4: operator '/' needs numbers, got array");
  CHECK(compile_error(R"(x % "2")") == "2: operator '%' needs numbers, got string");
  CHECK(compile_error("not 5") == "0: operator 'not' needs a boolean, got number");
  CHECK(compile_error(R"(-"x")") == "0: operator '-' needs a number, got string");
  CHECK(compile_error("-[1]") == "0: operator '-' needs a number, got array");
  CHECK(compile_error("1 and true") == "2: operator 'and' needs booleans, got number");
  CHECK(compile_error(R"(true or "x")") == "5: operator 'or' needs booleans, got string");
  CHECK(compile_error(R"(1 + "a")") ==
        "2: operator '+' needs two numbers or two strings, got number and string");
  CHECK(compile_error("true + 1") == "5: operator '+' needs numbers or strings, got boolean");
  CHECK(compile_error("x + [1]") == "2: operator '+' needs numbers or strings, got array");
  CHECK(compile_error(R"(1 < "a")") == "2: operator '<' cannot compare number with string");
  CHECK(compile_error(R"(x >= 1 and "b" <= 2)") ==
        "15: operator '<=' cannot compare string with number");
  CHECK(compile_error("true < false") == "5: operator '<' needs numbers or strings, got boolean");
  CHECK(compile_error("x > [2]") == "2: operator '>' needs numbers or strings, got array");
  CHECK(compile_error(R"(x in "abc")") ==
        "2: operator 'in' needs an array on the right, got string");
  CHECK(compile_error("x not in 3") ==
        "2: operator 'not in' needs an array on the right, got number");
}

TEST_CASE("checker: the types of operator results and metadata are known") {
  CHECK(compile_error("(a + 1) and b") == "8: operator 'and' needs booleans, got number");
  CHECK(compile_error("not (a == 1) - 1") == "13: operator '-' needs numbers, got boolean");
  CHECK(compile_error(R"(lower(a) * 2)") == "9: operator '*' needs numbers, got string");
  CHECK(compile_error("$key - 1") == "5: operator '-' needs numbers, got string");
  CHECK(compile_error(R"($timestamp + "x")") ==
        "11: operator '+' needs two numbers or two strings, got number and string");
  CHECK(compile_error("$headers.h and true") == "11: operator 'and' needs booleans, got string");
  CHECK(compile_error("not $offset") == "0: operator 'not' needs a boolean, got number");
}

TEST_CASE("checker: paths, null and comparisons by == are never static errors") {
  for (const char* ok : {"a - 1",
                         "a and b",
                         "not a",
                         "-a",
                         "a + b",
                         "a < b",
                         "a in b",
                         "lower(a)",
                         "a[b]",
                         "null - 1",
                         "-null",
                         "not null",
                         "null and true",
                         "null < 1",
                         "null in [1]",
                         "x in null",
                         R"(1 == "1")",
                         "[1] != true",
                         R"(a ?? "x")",
                         "lower(null)",
                         R"(substr("a", null))"}) {
    INFO(ok);
    CHECK(compile_error(ok) == "compiled");
  }
}

TEST_CASE("checker: function arguments, arity and names") {
  CHECK(compile_error("lower(1)") == "6: function 'lower' needs a string, got number");
  CHECK(compile_error(R"(substr("a", "b"))") ==
        "12: function 'substr' needs a number as argument 2, got string");
  CHECK(compile_error(R"(replace("a", "b", 3))") ==
        "18: function 'replace' needs a string as argument 3, got number");
  CHECK(compile_error("len(5)") ==
        "4: function 'len' needs a string, an array or an object, got number");
  CHECK(compile_error(R"(concat("a", [1]))") ==
        "12: function 'concat' needs a string, a number or a boolean as argument 2, got array");
  CHECK(compile_error("to_number([1])") ==
        "10: function 'to_number' needs a string, a number or a boolean, got array");
  CHECK(compile_error(R"(round(1, "2"))") ==
        "9: function 'round' needs a number as argument 2, got string");
  CHECK(compile_error("if(1, 2, 3)") ==
        "3: function 'if' needs a boolean as argument 1, got number");
  CHECK(compile_error(R"(min(1, "a"))") == "7: function 'min' cannot compare number with string");
  CHECK(compile_error(R"(max(x, "a", null, 2))") ==
        "18: function 'max' cannot compare string with number");
  CHECK(compile_error("min([1])") ==
        "4: function 'min' needs a string or a number as argument 1, got array");
  CHECK(compile_error("nope(1)") == "0: unknown function 'nope'");
  CHECK(compile_error("x + count()") == "4: unknown function 'count'");
  CHECK(compile_error("lookup(t, a)") ==
        "7: function 'lookup' needs a string literal as argument 1");
  CHECK(compile_error("lookup(\"t\", a)") ==
        "7: unknown table 't' (no tables are declared in 'tables:')");
  CHECK(compile_error("now_ms(1)") == "0: function 'now_ms' takes 0 arguments, got 1");
  CHECK(compile_error("matches(a)") == "0: function 'matches' takes 2 arguments, got 1");
  CHECK(compile_error("parse_time()") == "0: function 'parse_time' takes 1 or 2 arguments, got 0");
  CHECK(compile_error("hash(a, b)") == "0: function 'hash' takes 1 argument, got 2");
  CHECK(compile_error("lower()") == "0: function 'lower' takes 1 argument, got 0");
  CHECK(compile_error("x + lower(a, b)") == "4: function 'lower' takes 1 argument, got 2");
  CHECK(compile_error(R"(substr("a"))") == "0: function 'substr' takes 2 or 3 arguments, got 1");
  CHECK(compile_error("substr(a, 1, 2, 3)") ==
        "0: function 'substr' takes 2 or 3 arguments, got 4");
  CHECK(compile_error("replace(a, b)") == "0: function 'replace' takes 3 arguments, got 2");
  CHECK(compile_error("if(a, b)") == "0: function 'if' takes 3 arguments, got 2");
  CHECK(compile_error("coalesce()") == "0: function 'coalesce' takes at least 1 argument, got 0");
  CHECK(compile_error("concat()") == "0: function 'concat' takes at least 1 argument, got 0");
}

TEST_CASE("checker: indexes") {
  CHECK(compile_error("a[true]") == "2: index needs a number or a string, got boolean");
  CHECK(compile_error("a[[0]]") == "2: index needs a number or a string, got array");
  CHECK(compile_error("a[1.5]") == "2: array index must be an integer, got 1.5");
  CHECK(compile_error("a[0.5 * 3]") == "2: array index must be an integer, got 1.5");
  CHECK(compile_error("a[-1]") == "compiled");
  CHECK(compile_error("a[i]") == "compiled");
}

TEST_CASE("checker: errors found while folding constants") {
  CHECK(compile_error(R"(substr("abc", 1.5))") ==
        "0: function 'substr' needs an integer as argument 2, got 1.5");
  CHECK(compile_error("x + round(1, 0.5)") ==
        "4: function 'round' needs an integer as argument 2, got 0.5");
}

TEST_CASE("checker: static types") {
  CHECK(type_of("1 + 2") == type::number);
  CHECK(type_of("a + 1") == type::number);
  CHECK(type_of(R"(a + "x")") == type::string);
  CHECK(type_of("a + b") == type::any);
  CHECK(type_of("a - b") == type::number);
  CHECK(type_of("-a") == type::number);
  CHECK(type_of("a == 1") == type::boolean);
  CHECK(type_of("a < 1") == type::boolean);
  CHECK(type_of("a in b") == type::boolean);
  CHECK(type_of("a and b") == type::boolean);
  CHECK(type_of("not a") == type::boolean);
  CHECK(type_of("a") == type::any);
  CHECK(type_of("a.b[0]") == type::any);
  CHECK(type_of("[a]") == type::array);
  CHECK(type_of("a ?? 1") == type::any);
  CHECK(type_of(R"("a" ?? 1)") == type::string);
  CHECK(type_of("null ?? a ?? 1") == type::any);
  CHECK(type_of("if(a, 1, 2)") == type::number);
  CHECK(type_of("if(a, 1, null)") == type::number);
  CHECK(type_of(R"(if(a, 1, "x"))") == type::any);
  CHECK(type_of("coalesce(a, 1)") == type::any);
  CHECK(type_of("coalesce(null, 1)") == type::number);
  CHECK(type_of("lower(a)") == type::string);
  CHECK(type_of("len(a)") == type::number);
  CHECK(type_of("contains(a, b)") == type::boolean);
  CHECK(type_of("min(a, 1)") == type::any);
  CHECK(type_of("min(b, 1)") == type::any);
  CHECK(type_of("max(x, null, 2)") == type::any);
  CHECK(type_of("min(3, 1)") == type::number);
  CHECK(type_of("lower(null)") == type::null);
  CHECK(type_of("null + 1") == type::null);
  CHECK(type_of("1 / 0") == type::null);
  CHECK(type_of("$key") == type::string);
  CHECK(type_of("$topic") == type::string);
  CHECK(type_of("$timestamp") == type::number);
  CHECK(type_of("$partition") == type::number);
  CHECK(type_of("$offset") == type::number);
  CHECK(type_of("$headers.h") == type::string);
  CHECK(type_of("$value") == type::any);
}
