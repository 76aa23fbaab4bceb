#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "harness.h"

using weir::core::header_view;
using weir::core::record_view;
using weir::core::value;
using weir::expr::scope;
using weir::expr::testing::compile_ok;
using weir::expr::testing::run;

namespace {

constexpr const char* record = R"({
  "name": "Ada", "age": 36, "score": 2.5, "zero": 0, "flag": true, "none": null,
  "tags": ["a", "b", "c"], "text": "  Hi  ",
  "nested": {"odd key": 1, "deep": {"x": true}, "in": "kw"}
})";

std::string eval(std::string_view source) {
  return run(source, record);
}

}  // namespace

TEST_CASE("eval: literals") {
  CHECK(eval("42") == "42");
  CHECK(eval("-1.5e1") == "-15");
  CHECK(eval(R"('it\'s')") == R"("it's")");
  CHECK(eval("true") == "true");
  CHECK(eval("null") == "null");
  CHECK(eval(R"([1, "a", [true, null]])") == R"([1,"a",[true,null]])");
  CHECK(eval("[name, age + 1, []]") == R"(["Ada",37,[]])");
}

TEST_CASE("eval: paths") {
  CHECK(eval("name") == R"("Ada")");
  CHECK(eval("nested.deep.x") == "true");
  CHECK(eval(R"(nested["odd key"])") == "1");
  CHECK(eval("nested.in") == R"("kw")");
  CHECK(eval(R"(nested["deep"]["x"])") == "true");
  CHECK(eval("tags[0]") == R"("a")");
  CHECK(eval("tags[-1]") == R"("c")");
  CHECK(eval("tags[-3]") == R"("a")");
  CHECK(eval("tags") == R"(["a","b","c"])");
  CHECK(eval("nested.deep") == R"({"x":true})");
  CHECK(eval("tags[age - 35]") == R"("b")");
  CHECK(eval(R"(nested[concat("odd", " key")])") == "1");
  CHECK(eval(R"(["x", "y"][1])") == R"("y")");
  CHECK(eval("(none ?? nested).deep.x") == "true");
  CHECK(eval(R"($value["name"])") == R"("Ada")");
  CHECK(eval("$value.nested.deep") == R"({"x":true})");
  CHECK(run("$value", R"({"a":1})") == R"({"a":1})");
}

TEST_CASE("eval: a missing field, or a step into the wrong type, is null") {
  CHECK(eval("missing") == "null");
  CHECK(eval("missing.x.y") == "null");
  CHECK(eval("none.x") == "null");
  CHECK(eval("name.x") == "null");
  CHECK(eval("age[0]") == "null");
  CHECK(eval("tags[3]") == "null");
  CHECK(eval("tags[-4]") == "null");
  CHECK(eval("tags.x") == "null");
  CHECK(eval(R"(tags["0"])") == "null");
  CHECK(eval("nested[0]") == "null");
  CHECK(eval("tags[score]") == "null");
  CHECK(eval("tags[none]") == "null");
  CHECK(eval("nested[name]") == "null");
  CHECK(eval("tags[flag]") == "type_error: index needs a number or a string, got boolean");
  CHECK(eval("tags[tags]") == "type_error: index needs a number or a string, got array");
  weir::expr::scope empty;
  CHECK(compile_ok("a.b").eval(empty)->is_null());
  CHECK(compile_ok("$value").eval(empty)->is_null());
}

TEST_CASE("eval: arithmetic") {
  CHECK(eval("1 + 2 * 3") == "7");
  CHECK(eval("(1 + 2) * 3") == "9");
  CHECK(eval("10 - 4 - 3") == "3");
  CHECK(eval("10 / 4") == "2.5");
  CHECK(eval("7 % 3") == "1");
  CHECK(eval("-7 % 3") == "-1");
  CHECK(eval("7.5 % 2") == "1.5");
  CHECK(eval("age * score") == "90");
  CHECK(eval("-age") == "-36");
  CHECK(eval("- -age") == "36");
  CHECK(eval("age - -1") == "37");
  CHECK(eval(R"("a" + "b")") == R"("ab")");
  CHECK(eval(R"(name + "!" + name)") == R"("Ada!Ada")");
  CHECK(eval("0.1 + 0.2") == "0.30000000000000004");
}

TEST_CASE("eval: division by zero and overflow give null") {
  CHECK(eval("age / zero") == "null");
  CHECK(eval("age % zero") == "null");
  CHECK(eval("1 / 0") == "null");
  CHECK(eval("0 / 0") == "null");
  CHECK(eval("5 % 0") == "null");
  CHECK(eval("1e308 * age") == "null");
  CHECK(eval("-1e308 - 1e308") == "null");
}

TEST_CASE("eval: arithmetic on null is null") {
  for (const char* e : {"missing + 1", "1 - missing", "none * 2", "age / none", "missing % 2",
                        "-missing", R"(missing + "a")", R"("a" + none)", "missing + missing",
                        "null + 1", "missing + flag", "tags - none"}) {
    INFO(e);
    CHECK(eval(e) == "null");
  }
}

TEST_CASE("eval: arithmetic type errors") {
  CHECK(eval("name - 1") == "type_error: operator '-' needs numbers, got string");
  CHECK(eval("1 * name") == "type_error: operator '*' needs numbers, got string");
  CHECK(eval("age / flag") == "type_error: operator '/' needs numbers, got boolean");
  CHECK(eval("tags % 2") == "type_error: operator '%' needs numbers, got array");
  CHECK(eval("-name") == "type_error: operator '-' needs a number, got string");
  CHECK(eval("-nested") == "type_error: operator '-' needs a number, got object");
  CHECK(eval("age + name") ==
        "type_error: operator '+' needs two numbers or two strings, got number and string");
  CHECK(eval("name + age") ==
        "type_error: operator '+' needs two numbers or two strings, got string and number");
  CHECK(eval("flag + 1") == "type_error: operator '+' needs numbers or strings, got boolean");
  CHECK(eval("name + tags") == "type_error: operator '+' needs numbers or strings, got array");
}

TEST_CASE("eval: comparisons") {
  CHECK(eval("age == 36") == "true");
  CHECK(eval("age != 36") == "false");
  CHECK(eval("age == 36.0") == "true");
  CHECK(eval(R"(name == "Ada")") == "true");
  CHECK(eval(R"(name == 'ada')") == "false");
  CHECK(eval(R"(tags == ["a", "b", "c"])") == "true");
  CHECK(eval(R"(tags == ["a", "b"])") == "false");
  CHECK(eval("nested.deep.x == true") == "true");
  CHECK(eval("flag != false") == "true");
  CHECK(eval("1 < 2") == "true");
  CHECK(eval("2 < 10") == "true");
  CHECK(eval("1 <= 1") == "true");
  CHECK(eval("1 > 1") == "false");
  CHECK(eval("1 >= 2") == "false");
  CHECK(eval("score > 2") == "true");
  CHECK(eval(R"("abc" < "abd")") == "true");
  CHECK(eval(R"("ab" < "abc")") == "true");
  CHECK(eval(R"("2" < "10")") == "false");
  CHECK(eval(R"("B" < "a")") == "true");
  CHECK(eval("\"\xC3\xA9\" > \"z\"") == "true");  // by bytes: 0xC3 > 'z'
  CHECK(eval(R"(name >= "Ada")") == "true");
}

TEST_CASE("eval: == and != across types are false and true, never errors") {
  CHECK(eval(R"(age == "36")") == "false");
  CHECK(eval(R"(age != "36")") == "true");
  CHECK(eval("flag == 1") == "false");
  CHECK(eval("tags == nested") == "false");
  CHECK(eval("zero == false") == "false");
  CHECK(eval(R"(none == "")") == "false");
}

TEST_CASE("eval: comparisons with null are false, except == and != null") {
  CHECK(eval("missing < 1") == "false");
  CHECK(eval("missing <= 1") == "false");
  CHECK(eval("missing > 1") == "false");
  CHECK(eval("missing >= 1") == "false");
  CHECK(eval("1 < missing") == "false");
  CHECK(eval(R"(none < "a")") == "false");
  CHECK(eval("missing < missing") == "false");
  CHECK(eval("none >= tags") == "false");
  CHECK(eval("missing == null") == "true");
  CHECK(eval("none == null") == "true");
  CHECK(eval("missing != null") == "false");
  CHECK(eval("null == null") == "true");
  CHECK(eval("none == missing") == "true");
  CHECK(eval("age == null") == "false");
  CHECK(eval("age != null") == "true");
  CHECK(eval("missing == 1") == "false");
  CHECK(eval("missing != 1") == "true");
}

TEST_CASE("eval: comparison type errors") {
  CHECK(eval("name < age") == "type_error: operator '<' cannot compare string with number");
  CHECK(eval("age >= name") == "type_error: operator '>=' cannot compare number with string");
  CHECK(eval("flag < flag") == "type_error: operator '<' needs numbers or strings, got boolean");
  CHECK(eval("tags > tags") == "type_error: operator '>' needs numbers or strings, got array");
  CHECK(eval("age <= flag") == "type_error: operator '<=' needs numbers or strings, got boolean");
  CHECK(eval("nested < name") == "type_error: operator '<' needs numbers or strings, got object");
}

TEST_CASE("eval: in and not in") {
  CHECK(eval(R"("b" in tags)") == "true");
  CHECK(eval(R"("z" in tags)") == "false");
  CHECK(eval(R"("z" not in tags)") == "true");
  CHECK(eval(R"("a" not in tags)") == "false");
  CHECK(eval("age in [1, 36]") == "true");
  CHECK(eval(R"(age in [1, "36"])") == "false");
  CHECK(eval("age in [1, age + 0]") == "true");
  CHECK(eval("tags in [[1], tags]") == "true");
  CHECK(eval("age in []") == "false");
  CHECK(eval("missing in tags") == "false");
  CHECK(eval("missing in [1, null]") == "true");
  CHECK(eval(R"("a" in missing)") == "false");
  CHECK(eval(R"("a" not in missing)") == "true");
  CHECK(eval("age in name") == "type_error: operator 'in' needs an array on the right, got string");
  CHECK(eval("age not in nested") ==
        "type_error: operator 'not in' needs an array on the right, got object");
}

TEST_CASE("eval: and, or, not use three-valued logic") {
  CHECK(eval("flag and true") == "true");
  CHECK(eval("flag and false") == "false");
  CHECK(eval("flag or false") == "true");
  CHECK(eval("not flag") == "false");
  CHECK(eval("not (age > 40)") == "true");
  // null is "unknown": it decides nothing.
  CHECK(eval("missing and false") == "false");
  CHECK(eval("false and missing") == "false");
  CHECK(eval("missing and true") == "null");
  CHECK(eval("true and missing") == "null");
  CHECK(eval("missing and none") == "null");
  CHECK(eval("missing or true") == "true");
  CHECK(eval("true or missing") == "true");
  CHECK(eval("missing or false") == "null");
  CHECK(eval("false or missing") == "null");
  CHECK(eval("missing or none") == "null");
  CHECK(eval("not missing") == "null");
  CHECK(eval("not not missing") == "null");
  CHECK(eval("null and false") == "false");
  CHECK(eval("null or true") == "true");
}

TEST_CASE("eval: and/or skip the right side when the left decides") {
  CHECK(eval("age > 40 and lower(age) == 'x'") == "false");
  CHECK(eval("age > 30 or lower(age) == 'x'") == "true");
  CHECK(eval("age > 30 and lower(age) == 'x'") ==
        "type_error: function 'lower' needs a string, got number");
  CHECK(eval("missing and lower(age) == 'x'") ==
        "type_error: function 'lower' needs a string, got number");
}

TEST_CASE("eval: and/or/not type errors") {
  CHECK(eval("name and true") == "type_error: operator 'and' needs booleans, got string");
  CHECK(eval("flag and age") == "type_error: operator 'and' needs booleans, got number");
  CHECK(eval("false or tags") == "type_error: operator 'or' needs booleans, got array");
  CHECK(eval("not name") == "type_error: operator 'not' needs a boolean, got string");
  CHECK(eval("not zero") == "type_error: operator 'not' needs a boolean, got number");
}

TEST_CASE("eval: ?? yields the first non-null operand") {
  CHECK(eval(R"(missing ?? "d")") == R"("d")");
  CHECK(eval(R"(name ?? "d")") == R"("Ada")");
  CHECK(eval("none ?? missing ?? 3") == "3");
  CHECK(eval("missing ?? none") == "null");
  CHECK(eval("flag ?? lower(age)") == "true");
  CHECK(eval("zero ?? 1") == "0");
  CHECK(eval("missing ?? age > 30") == "true");
}

TEST_CASE("eval: record metadata") {
  record_view meta;
  meta.topic = "payments";
  meta.partition = 3;
  meta.offset = 42;
  meta.timestamp_ms = 1700000000123;
  meta.key = "k1";
  meta.headers = {header_view{"trace", "abc"}, header_view{"empty", std::nullopt},
                  header_view{"trace", "def"}, header_view{"content-type", "json"}};
  auto with_meta = [&](std::string_view src) { return run(src, record, &meta); };
  CHECK(with_meta("$key") == R"("k1")");
  CHECK(with_meta("$timestamp") == "1700000000123");
  CHECK(with_meta("$topic") == R"("payments")");
  CHECK(with_meta("$partition") == "3");
  CHECK(with_meta("$offset") == "42");
  CHECK(with_meta("$headers.trace") == R"("def")");
  CHECK(with_meta(R"($headers["content-type"])") == R"("json")");
  CHECK(with_meta("$headers.empty") == "null");
  CHECK(with_meta("$headers.missing") == "null");
  CHECK(with_meta(R"($key + "/" + $topic)") == R"("k1/payments")");
  CHECK(with_meta("$timestamp - 123") == "1700000000000");
  CHECK(with_meta("name") == R"("Ada")");
  meta.key.reset();
  CHECK(with_meta("$key") == "null");
  CHECK(with_meta("$key == null") == "true");
  // Derived records have no metadata.
  for (const char* m :
       {"$key", "$timestamp", "$topic", "$partition", "$offset", "$headers.trace"}) {
    INFO(m);
    CHECK(eval(m) == "null");
  }
}

TEST_CASE("eval: test() is true only for boolean true") {
  auto v = weir::core::parse_json(record);
  REQUIRE(v.ok());
  const scope s{&*v, nullptr};
  auto test = [&](std::string_view src) {
    auto r = compile_ok(src).test(s);
    return r.ok() ? (*r ? "true" : "false") : "type_error: " + r.err().message;
  };
  CHECK(test("age > 30") == "true");
  CHECK(test("age > 40") == "false");
  CHECK(test("missing > 1") == "false");
  CHECK(test("missing") == "false");
  CHECK(test("none") == "false");
  CHECK(test("missing and true") == "false");
  CHECK(test("flag") == "true");
  CHECK(test("name") == "type_error: a condition needs a boolean, got string");
  CHECK(test("age") == "type_error: a condition needs a boolean, got number");
  CHECK(test("tags") == "type_error: a condition needs a boolean, got array");
  CHECK(test("lower(age) == 'x'") == "type_error: function 'lower' needs a string, got number");
  auto r = compile_ok("name - 1").test(s);
  REQUIRE_FALSE(r.ok());
  CHECK(r.err().code == weir::core::errc::type_error);
}

TEST_CASE("eval: eval_ref points into the record without copying") {
  auto v = weir::core::parse_json(record);
  REQUIRE(v.ok());
  const scope s{&*v, nullptr};
  value scratch;
  auto name = compile_ok("nested.deep").eval_ref(s, scratch);
  REQUIRE(name.ok());
  CHECK(*name == v->find("nested")->find("deep"));
  auto sum = compile_ok("age + 1").eval_ref(s, scratch);
  REQUIRE(sum.ok());
  CHECK(*sum == &scratch);
  CHECK(scratch == value(37));
  // A literal result points into the expression, which must outlive it.
  const auto x = compile_ok("'x'");
  auto lit = x.eval_ref(s, scratch);
  REQUIRE(lit.ok());
  CHECK(*lit != &scratch);
  CHECK(**lit == value("x"));
}

TEST_CASE("eval: a compiled expression is shared by copies and threads") {
  auto e =
      compile_ok(R"(concat(lower(name), "-", to_string(age * 2)) == "ada-72" and "b" in tags)");
  auto copy = e;
  CHECK(copy.source() == e.source());
  auto v = weir::core::parse_json(record);
  REQUIRE(v.ok());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const auto& mine = t % 2 ? copy : e;
      for (int i = 0; i < 500; ++i) {
        auto r = mine.test(scope{&*v, nullptr});
        if (r.ok() && *r) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(good == 2000);
}
