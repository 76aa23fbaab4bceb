#include <catch2/catch.hpp>

#include "harness.h"

using weir::expr::testing::run;

namespace {

constexpr const char* record = R"({
  "name": "Ada", "age": 36, "half": 0.5, "flag": true, "none": null,
  "tags": ["a", "b", "c"], "text": "  Hi  ", "nested": {"a": 1, "b": {"c": [1, "x"]}}
})";

std::string eval(std::string_view source) {
  return run(source, record);
}

}  // namespace

TEST_CASE("functions: lower, upper, trim (ASCII)") {
  CHECK(eval("lower(name)") == R"("ada")");
  CHECK(eval("lower('MiXeD \xC3\x89')") == "\"mixed \xC3\x89\"");
  CHECK(eval("upper(name)") == R"("ADA")");
  CHECK(eval("upper('a1_b')") == R"("A1_B")");
  CHECK(eval("trim(text)") == R"("Hi")");
  CHECK(eval(R"(trim("\t x y \n"))") == R"("x y")");
  CHECK(eval("trim('   ')") == R"("")");
  CHECK(eval("lower(age)") == "type_error: function 'lower' needs a string, got number");
  CHECK(eval("upper(tags)") == "type_error: function 'upper' needs a string, got array");
  CHECK(eval("trim(flag)") == "type_error: function 'trim' needs a string, got boolean");
}

TEST_CASE("functions: len counts code points, elements or members") {
  CHECK(eval("len(name)") == "3");
  CHECK(eval("len('h\xC3\xA9llo')") == "5");
  CHECK(eval("len('')") == "0");
  CHECK(eval("len(tags)") == "3");
  CHECK(eval("len(nested)") == "2");
  CHECK(eval("len([])") == "0");
  CHECK(eval("len(age)") ==
        "type_error: function 'len' needs a string, an array or an object, got number");
}

TEST_CASE("functions: contains, starts_with, ends_with") {
  CHECK(eval("contains(name, 'd')") == "true");
  CHECK(eval("contains(name, 'x')") == "false");
  CHECK(eval("contains(name, '')") == "true");
  CHECK(eval("contains(name, 'ada')") == "false");
  CHECK(eval("starts_with(name, 'Ad')") == "true");
  CHECK(eval("starts_with(name, 'da')") == "false");
  CHECK(eval("ends_with(name, 'da')") == "true");
  CHECK(eval("ends_with(name, 'Adam')") == "false");
  CHECK(eval("contains(tags, 'a')") ==
        "type_error: function 'contains' needs a string as argument 1, got array");
  CHECK(eval("starts_with(name, age)") ==
        "type_error: function 'starts_with' needs a string as argument 2, got number");
}

TEST_CASE("functions: substr counts code points from 0; negative start from the end") {
  CHECK(eval("substr('hello', 1)") == R"("ello")");
  CHECK(eval("substr('hello', 1, 3)") == R"("ell")");
  CHECK(eval("substr('hello', 0, 99)") == R"("hello")");
  CHECK(eval("substr('hello', -3)") == R"("llo")");
  CHECK(eval("substr('hello', -3, 2)") == R"("ll")");
  CHECK(eval("substr('hello', 10)") == R"("")");
  CHECK(eval("substr('hello', 5)") == R"("")");
  CHECK(eval("substr('hello', -10, 2)") == R"("he")");
  CHECK(eval("substr('hello', 2, 0)") == R"("")");
  CHECK(eval("substr('hello', 2, -1)") == R"("")");
  CHECK(eval("substr('h\xC3\xA9llo', 1, 2)") == "\"\xC3\xA9l\"");
  CHECK(eval("substr('h\xC3\xA9llo', -4)") == "\"\xC3\xA9llo\"");
  CHECK(eval("substr(name, age - 35)") == R"("da")");
  CHECK(eval("substr(name, half)") ==
        "type_error: function 'substr' needs an integer as argument 2, got 0.5");
  CHECK(eval("substr(name, 0, half)") ==
        "type_error: function 'substr' needs an integer as argument 3, got 0.5");
  CHECK(eval("substr(age, 0)") ==
        "type_error: function 'substr' needs a string as argument 1, got number");
}

TEST_CASE("functions: replace is plain text, every occurrence") {
  CHECK(eval("replace('a-b-c', '-', '+')") == R"("a+b+c")");
  CHECK(eval("replace('aaa', 'aa', 'b')") == R"("ba")");
  CHECK(eval("replace('a.b', '.', '')") == R"("ab")");
  CHECK(eval("replace('abc', '', 'x')") == R"("abc")");
  CHECK(eval("replace(name, 'x', 'y')") == R"("Ada")");
  CHECK(eval("replace(name, 'a', '[.*]')") == R"("Ad[.*]")");
  CHECK(eval("replace(name, 'A', age)") ==
        "type_error: function 'replace' needs a string as argument 3, got number");
}

TEST_CASE("functions: concat joins scalars and skips nulls") {
  CHECK(eval("concat('a', 1, true, null, 2.5, name)") == R"("a1true2.5Ada")");
  CHECK(eval("concat(missing)") == R"("")");
  CHECK(eval("concat(name)") == R"("Ada")");
  CHECK(eval("concat(name, '-', age, '-', none, flag)") == R"("Ada-36-true")");
  CHECK(eval("concat('a', 'b', 'c', 'd', 'e', 'f', name)") == R"("abcdefAda")");
  CHECK(eval("concat('a', tags)") ==
        "type_error: function 'concat' needs a string, a number or a boolean as argument 2, "
        "got array");
}

TEST_CASE("functions: to_number and to_string") {
  CHECK(eval("to_number('42')") == "42");
  CHECK(eval("to_number(' 1.5e2 ')") == "150");
  CHECK(eval("to_number('-0.25')") == "-0.25");
  CHECK(eval("to_number('abc')") == "null");
  CHECK(eval("to_number('')") == "null");
  CHECK(eval("to_number('12abc')") == "null");
  CHECK(eval("to_number('inf')") == "null");
  CHECK(eval("to_number('nan')") == "null");
  CHECK(eval("to_number('1e999')") == "null");
  CHECK(eval("to_number(true)") == "1");
  CHECK(eval("to_number(false)") == "0");
  CHECK(eval("to_number(age)") == "36");
  CHECK(eval("to_number(tags)") ==
        "type_error: function 'to_number' needs a string, a number or a boolean, got array");
  CHECK(eval("to_string(36)") == R"("36")");
  CHECK(eval("to_string(2.5)") == R"("2.5")");
  CHECK(eval("to_string(-0.1)") == R"("-0.1")");
  CHECK(eval("to_string(1700000000123)") == R"("1700000000123")");
  CHECK(eval("to_string(true)") == R"("true")");
  CHECK(eval("to_string(name)") == R"("Ada")");
  CHECK(eval("to_string(tags)") == R"("[\"a\",\"b\",\"c\"]")");
  CHECK(eval("to_string(nested.b)") == R"("{\"c\":[1,\"x\"]}")");
}

TEST_CASE("functions: abs, floor, ceil, round") {
  CHECK(eval("abs(-2.5)") == "2.5");
  CHECK(eval("abs(age)") == "36");
  CHECK(eval("floor(-1.5)") == "-2");
  CHECK(eval("floor(1.9)") == "1");
  CHECK(eval("ceil(1.2)") == "2");
  CHECK(eval("ceil(-1.2)") == "-1");
  CHECK(eval("round(2.5)") == "3");
  CHECK(eval("round(-2.5)") == "-3");
  CHECK(eval("round(2.4)") == "2");
  CHECK(eval("round(-0.5)") == "-1");
  CHECK(eval("round(0.49999999999999994)") == "0");
  CHECK(eval("round(123.456, 1)") == "123.5");
  CHECK(eval("round(123.456, 2)") == "123.46");
  CHECK(eval("round(1.005, 2)") == "1.01");
  CHECK(eval("round(2.675, 2)") == "2.68");
  CHECK(eval("round(-2.675, 2)") == "-2.68");
  CHECK(eval("round(0.125, 2)") == "0.13");
  CHECK(eval("round(1.5, 5)") == "1.5");
  CHECK(eval("round(1234.5, -2)") == "1200");
  CHECK(eval("round(1250, -2)") == "1300");
  CHECK(eval("round(0.4, -1)") == "0");
  CHECK(eval("round(5, -3)") == "0");
  CHECK(eval("round(999.6)") == "1000");
  CHECK(eval("round(9.96, 1)") == "10");
  CHECK(eval("round(age, 1000)") == "36");
  CHECK(eval("round(age, half)") ==
        "type_error: function 'round' needs an integer as argument 2, got 0.5");
  CHECK(eval("abs(name)") == "type_error: function 'abs' needs a number, got string");
  CHECK(eval("floor(flag)") == "type_error: function 'floor' needs a number, got boolean");
  CHECK(eval("ceil(tags)") == "type_error: function 'ceil' needs a number, got array");
}

TEST_CASE("functions: min and max skip nulls") {
  CHECK(eval("min(3, 1, 2)") == "1");
  CHECK(eval("max(3, 1, 2)") == "3");
  CHECK(eval("min(age)") == "36");
  CHECK(eval("min(missing, 2)") == "2");
  CHECK(eval("max(none, age, missing)") == "36");
  CHECK(eval("min(missing)") == "null");
  CHECK(eval("min('b', 'a', 'c')") == R"("a")");
  CHECK(eval("max(name, 'Z')") == R"("Z")");
  CHECK(eval("max(name, 'B')") == R"("B")");
  CHECK(eval("min(age, name)") == "type_error: function 'min' cannot compare number with string");
  CHECK(eval("max(name, none, age)") ==
        "type_error: function 'max' cannot compare string with number");
  CHECK(eval("min(tags)") ==
        "type_error: function 'min' needs a string or a number as argument 1, got array");
  CHECK(eval("max(1, flag)") ==
        "type_error: function 'max' needs a string or a number as argument 2, got boolean");
}

TEST_CASE("functions: if and coalesce evaluate only what they need") {
  CHECK(eval("if(flag, 'y', 'n')") == R"("y")");
  CHECK(eval("if(not flag, 'y', 'n')") == R"("n")");
  CHECK(eval("if(missing, 'y', 'n')") == R"("n")");
  CHECK(eval("if(age > 40, 'old', 'young')") == R"("young")");
  CHECK(eval("if(flag, 1, lower(age))") == "1");
  CHECK(eval("if(age < 0, lower(age), 2)") == "2");
  CHECK(eval("if(age, 1, 2)") ==
        "type_error: function 'if' needs a boolean as argument 1, got number");
  CHECK(eval("coalesce(missing, none, 'x')") == R"("x")");
  CHECK(eval("coalesce(missing)") == "null");
  CHECK(eval("coalesce(name, lower(age))") == R"("Ada")");
  CHECK(eval("coalesce(none, lower(age))") ==
        "type_error: function 'lower' needs a string, got number");
}

TEST_CASE("functions: a null argument gives null, except concat, min, max, if, coalesce") {
  for (const char* e :
       {"lower(missing)", "upper(none)", "trim(missing)", "len(missing)", "contains(missing, 'x')",
        "contains(name, missing)", "starts_with(none, 'a')", "ends_with(name, none)",
        "substr(missing, 1)", "substr(name, missing)", "substr(name, 0, missing)",
        "replace(name, missing, 'x')", "to_number(missing)", "to_string(none)", "abs(missing)",
        "round(missing)", "round(1.5, missing)", "floor(none)", "ceil(missing)"}) {
    INFO(e);
    CHECK(eval(e) == "null");
  }
}

TEST_CASE("functions: constant calls are computed once at compile time") {
  auto e = weir::expr::testing::compile_ok("upper(concat('a', 'b')) + to_string(round(2.5))");
  CHECK(e.static_type() == weir::expr::type::string);
  weir::expr::scope nothing;
  auto r = e.eval(nothing);
  REQUIRE(r.ok());
  CHECK(*r == weir::core::value("AB3"));
}
