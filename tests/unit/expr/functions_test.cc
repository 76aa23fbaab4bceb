#include <catch2/catch.hpp>

#include <chrono>

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

namespace {

constexpr const char* text_record = R"({
  "name": "Ada", "age": 36, "s": "a1b22c333", "none": null, "tags": ["a"],
  "ts": "2024-05-01T12:00:00Z", "fmt": "%Y", "bad_fmt": "%Q", "ms": 1714564800250
})";

std::string eval_text(std::string_view source) {
  return run(source, text_record);
}

}  // namespace

TEST_CASE("functions: matches is an RE2 partial match with a literal pattern") {
  CHECK(eval_text("matches(name, 'd')") == "true");
  CHECK(eval_text("matches(name, '^d')") == "false");
  CHECK(eval_text("matches(name, '(?i)^ADA$')") == "true");
  CHECK(eval_text("matches(s, '[0-9]{3}$')") == "true");
  CHECK(eval_text("matches('h\xC3\xA9', '^h.$')") == "true");
  CHECK(eval_text("matches(none, 'x')") == "null");
  CHECK(eval_text("matches(missing, 'x')") == "null");
  CHECK(eval_text("matches(age, 'x')") ==
        "type_error: function 'matches' needs a string as argument 1, got number");
}

TEST_CASE("functions: regex patterns are string literals compiled at load time") {
  using weir::expr::testing::compile_error;
  CHECK(compile_error("matches(name, name)") ==
        "14: function 'matches' needs a string literal as argument 2");
  CHECK(compile_error("matches(name, null)") ==
        "14: function 'matches' needs a string literal as argument 2");
  CHECK(compile_error("matches(name, 'a' + 'b')") ==
        "14: function 'matches' needs a string literal as argument 2");
  CHECK(compile_error("matches(name, 1)") ==
        "14: function 'matches' needs a string as argument 2, got number");
  CHECK(compile_error("matches(name, '(a')") ==
        "14: function 'matches': invalid regular expression: missing ): (a");
  CHECK(compile_error("x and matches(name, 'a**')") ==
        "20: function 'matches': invalid regular expression: bad repetition operator: **");
  CHECK(compile_error("regex_extract(s, '[')") ==
        "17: function 'regex_extract': invalid regular expression: missing ]: [");
  CHECK(compile_error("regex_replace(s, name, 'x')") ==
        "17: function 'regex_replace' needs a string literal as argument 2");
  CHECK(compile_error("regex_extract(s, '(a)', 2)") ==
        "24: function 'regex_extract' needs a group from 0 to 1 as argument 3, got 2");
  CHECK(compile_error("regex_extract(s, '(a)', 0.5)") ==
        "24: function 'regex_extract' needs a group from 0 to 1 as argument 3, got 0.5");
  CHECK(compile_error("regex_replace(s, '([a-z])', '\\\\2')") ==
        "28: function 'regex_replace' has an invalid replacement: Rewrite schema requests 2 "
        "matches, but the regexp only has 1 parenthesized subexpressions.");
  CHECK(compile_error("matches('abc', 'b') and x") == "compiled");
}

TEST_CASE("functions: regex_extract returns the first match or a capture group") {
  CHECK(eval_text("regex_extract(s, '[0-9]+')") == R"("1")");
  CHECK(eval_text("regex_extract(s, '([a-z])([0-9]{2})')") == R"("b22")");
  CHECK(eval_text("regex_extract(s, '([a-z])([0-9]{2})', 0)") == R"("b22")");
  CHECK(eval_text("regex_extract(s, '([a-z])([0-9]{2})', 1)") == R"("b")");
  CHECK(eval_text("regex_extract(s, '([a-z])([0-9]{2})', 2)") == R"("22")");
  CHECK(eval_text("regex_extract(s, '(x)(x)(x)(x)(x)(x)(x)(x)(x)|(c3+)', 10)") == R"("c333")");
  CHECK(eval_text("regex_extract(s, 'x(y)?|a', 1)") == "null");
  CHECK(eval_text("regex_extract(s, 'zz')") == "null");
  CHECK(eval_text("regex_extract(none, 'a')") == "null");
  CHECK(eval_text("regex_extract(s, '(a)', none)") == "null");
  CHECK(eval_text("regex_extract(s, '(a)', age)") ==
        "type_error: function 'regex_extract' needs a group from 0 to 1 as argument 3, got 36");
  CHECK(eval_text("regex_extract(s, '(a)', name)") ==
        "type_error: function 'regex_extract' needs a number as argument 3, got string");
}

TEST_CASE("functions: regex_replace replaces every match, \\1 for groups") {
  CHECK(eval_text("regex_replace(s, '[0-9]+', '#')") == R"("a#b#c#")");
  CHECK(eval_text("regex_replace(s, '([a-z])([0-9]+)', '\\\\2\\\\1')") == R"("1a22b333c")");
  CHECK(eval_text("regex_replace('abc', 'x*', '-')") == R"("-a-b-c-")");
  CHECK(eval_text("regex_replace(s, '[a-z]', name)") == R"("Ada1Ada22Ada333")");
  CHECK(eval_text("regex_replace(s, 'q', 'x')") == R"("a1b22c333")");
  CHECK(eval_text("regex_replace(s, '[0-9]', none)") == "null");
  CHECK(eval_text("regex_replace(none, '[0-9]', 'x')") == "null");
  CHECK(run("regex_replace(s, '(a)', r)", R"({"s": "a", "r": "\\2"})") ==
        "type_error: function 'regex_replace' has an invalid replacement: Rewrite schema "
        "requests 2 matches, but the regexp only has 1 parenthesized subexpressions.");
}

TEST_CASE("functions: now_ms reads the wall clock on every evaluation") {
  auto e = weir::expr::testing::compile_ok("now_ms()");
  CHECK(e.static_type() == weir::expr::type::number);
  const double before = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  auto r = e.eval(weir::expr::scope{});
  REQUIRE(r.ok());
  CHECK(r->as_number() >= before);
  CHECK(r->as_number() < before + 60'000);
  // Not folded at compile time, even inside a constant expression.
  CHECK(eval_text("now_ms() - now_ms() <= 0") == "true");
  CHECK(eval_text("now_ms() > 1700000000000") == "true");
}

TEST_CASE("functions: parse_time reads ISO 8601 by default, null when it cannot") {
  CHECK(eval_text("parse_time(ts)") == "1714564800000");
  CHECK(eval_text("parse_time('2024-05-01T12:00:00.250+02:00')") == "1714557600250");
  CHECK(eval_text("parse_time('1970-01-01T00:00:00Z')") == "0");
  CHECK(eval_text("parse_time('nope')") == "null");
  CHECK(eval_text("parse_time('nope') ?? 0") == "0");
  CHECK(eval_text("parse_time(none)") == "null");
  CHECK(eval_text("parse_time(ts, none)") == "null");
  CHECK(eval_text("parse_time(age)") ==
        "type_error: function 'parse_time' needs a string as argument 1, got number");
}

TEST_CASE("functions: parse_time with a format") {
  CHECK(eval_text("parse_time('01/05/2024 12:30', '%d/%m/%Y %H:%M')") == "1714566600000");
  CHECK(eval_text("parse_time('1/5/2024 9:05', '%d/%m/%Y %H:%M')") == "1714554300000");
  CHECK(eval_text("parse_time('2024-02-29', '%Y-%m-%d')") == "1709164800000");
  CHECK(eval_text("parse_time('2023-02-29', '%Y-%m-%d')") == "null");
  CHECK(eval_text("parse_time('2024-13-01', '%Y-%m-%d')") == "null");
  CHECK(eval_text("parse_time('2024-05-01 24:00', '%Y-%m-%d %H:%M')") == "null");
  CHECK(eval_text("parse_time('2024-05-01x', '%Y-%m-%d')") == "null");
  CHECK(eval_text("parse_time('24-05-01', '%Y-%m-%d')") == "null");
  CHECK(eval_text("parse_time('2024', '%Y')") == "1704067200000");
  CHECK(eval_text("parse_time('20240501T120000+0200', '%Y%m%dT%H%M%S%z')") == "1714557600000");
  CHECK(eval_text("parse_time('2024-05-01 12:00:00.123456 -01:30', '%Y-%m-%d %H:%M:%S.%f %z')") ==
        "1714570200123");
  CHECK(eval_text("parse_time('12:00:00.5Z', '%H:%M:%S.%f%z')") == "43200500");
  CHECK(eval_text("parse_time('12:00 +05', '%H:%M %z')") == "25200000");
  CHECK(eval_text("parse_time('1714564800', '%s')") == "1714564800000");
  CHECK(eval_text("parse_time('1714564800.5', '%s.%f')") == "1714564800500");
  CHECK(eval_text("parse_time('-1.5', '%s.%f')") == "-1500");
  CHECK(eval_text("parse_time('100%', '%s%%')") == "100000");
  CHECK(eval_text("parse_time('2024', fmt)") == "1704067200000");
  CHECK(eval_text("parse_time('x', bad_fmt)") ==
        "type_error: function 'parse_time': time format has unsupported directive '%Q' "
        "(supported: %Y %m %d %H %M %S %f %z %s %%)");
  using weir::expr::testing::compile_error;
  CHECK(compile_error("parse_time(x, '%Q')") ==
        "14: function 'parse_time': time format has unsupported directive '%Q' (supported: "
        "%Y %m %d %H %M %S %f %z %s %%)");
  CHECK(compile_error("parse_time(x, '%Y %')") ==
        "14: function 'parse_time': time format ends with a lone '%'");
  CHECK(compile_error("parse_time(x, 1)") ==
        "14: function 'parse_time' needs a string as argument 2, got number");
}

TEST_CASE("functions: format_time writes ISO 8601 UTC by default, or a format") {
  CHECK(eval_text("format_time(0)") == R"("1970-01-01T00:00:00.000Z")");
  CHECK(eval_text("format_time(ms)") == R"("2024-05-01T12:00:00.250Z")");
  CHECK(eval_text("format_time(1.7)") == R"("1970-01-01T00:00:00.001Z")");
  CHECK(eval_text("format_time(ms, '%Y/%m/%d %H:%M:%S.%f %z %s %%')") ==
        R"("2024/05/01 12:00:00.250 +0000 1714564800 %")");
  CHECK(eval_text("format_time(-1, '%Y-%m-%d %H:%M:%S.%f %s')") ==
        R"("1969-12-31 23:59:59.999 -1")");
  CHECK(eval_text("format_time(-62167219200000)") == R"("0000-01-01T00:00:00.000Z")");
  CHECK(eval_text("format_time(253402300799999, '%Y')") == R"("9999")");
  CHECK(eval_text("format_time(253402300800000)") == "null");
  CHECK(eval_text("format_time(-62167219200001)") == "null");
  CHECK(eval_text("format_time(parse_time(ts), fmt)") == R"("2024")");
  CHECK(eval_text("parse_time(format_time(ms))") == "1714564800250");
  CHECK(eval_text("format_time(none)") == "null");
  CHECK(eval_text("format_time(ms, none)") == "null");
  CHECK(eval_text("format_time(name)") ==
        "type_error: function 'format_time' needs a number as argument 1, got string");
  CHECK(eval_text("format_time(ms, bad_fmt)") ==
        "type_error: function 'format_time': time format has unsupported directive '%Q' "
        "(supported: %Y %m %d %H %M %S %f %z %s %%)");
  using weir::expr::testing::compile_error;
  CHECK(compile_error("format_time(x, '%j')") ==
        "15: function 'format_time': time format has unsupported directive '%j' (supported: "
        "%Y %m %d %H %M %S %f %z %s %%)");
  CHECK(compile_error("format_time('x')") ==
        "12: function 'format_time' needs a number as argument 1, got string");
}

TEST_CASE("functions: hash is FNV-1a 64 of the compact JSON text, masked to 53 bits") {
  // Reference values: FNV-1a 64 of the bytes shown, & (2^53 - 1).
  CHECK(eval_text("hash('ada')") == "2878199751944379");  // "ada" with its quotes
  CHECK(eval_text("hash(name)") == "6820000501275803");   // "Ada"
  CHECK(eval_text("hash(age)") == "8866494863640764");    // 36
  CHECK(eval_text("hash(36.0)") == "8866494863640764");
  CHECK(eval_text("hash(tags)") == "2406390489608450");  // ["a"]
  CHECK(eval_text("hash(true)") == "8049452976553893");
  CHECK(eval_text("hash([1, 'a', 2.5])") == "1076701087100386");
  CHECK(eval_text("hash('a\\\"b\\n')") == "2502350002098840");  // "a\"b\n"
  CHECK(run("hash($value)", R"({"name":"Ada","age":36})") == "5014304585426194");
  CHECK(run("hash($value)", R"({"b":1,"a":2})") == "1824763777268979");
  CHECK(eval_text("hash(none)") == "null");
  CHECK(eval_text("hash(missing)") == "null");
  CHECK(eval_text("hash(name) % 100 < 10") == "true");  // 6820000501275803 % 100 is 3
  CHECK(eval_text("hash('ada') % 100") == "79");
}

TEST_CASE("functions: new functions give null for a null argument") {
  for (const char* e :
       {"matches(missing, 'a')", "regex_extract(none, 'a')", "regex_extract(s, '(a)', missing)",
        "regex_replace(missing, 'a', 'b')", "regex_replace(s, 'a', none)", "parse_time(missing)",
        "parse_time(ts, missing)", "format_time(none)", "format_time(ms, missing)",
        "hash(missing)"}) {
    INFO(e);
    CHECK(eval_text(e) == "null");
  }
}
