#include <catch2/catch.hpp>

#include "harness.h"

using weir::expr::call;
using weir::expr::compile_call;
using weir::expr::scope;
using weir::expr::syntax_error;
using weir::expr::testing::compile_ok;

namespace {

std::optional<std::string> name_of(std::string_view source) {
  return compile_ok(source).path_name();
}

std::string call_error(std::string_view source) {
  auto c = compile_call(source);
  if (auto* e = std::get_if<syntax_error>(&c)) return std::to_string(e->offset) + ": " + e->message;
  return "compiled";
}

call call_ok(std::string_view source) {
  auto c = compile_call(source);
  REQUIRE(std::holds_alternative<call>(c));
  return std::get<call>(std::move(c));
}

}  // namespace

TEST_CASE("path_name: the canonical dotted form of plain field paths") {
  CHECK(name_of("a") == "a");
  CHECK(name_of("a.b.c") == "a.b.c");
  CHECK(name_of(R"(a["odd key"])") == "a.odd key");
  CHECK(name_of(R"(a["b"].c)") == "a.b.c");
  CHECK(name_of("a.in") == "a.in");
  CHECK(name_of("(a.b)") == "a.b");
  CHECK(name_of(" card_id ") == "card_id");
  CHECK(name_of("$value.a") == "a");
  CHECK(name_of(R"($value["user-id"])") == "user-id");
  CHECK(name_of("$value") == std::nullopt);
  CHECK(name_of("a[0]") == std::nullopt);
  CHECK(name_of("a.b[-1].c") == std::nullopt);
  CHECK(name_of("a[i]") == std::nullopt);
  CHECK(name_of("a + 1") == std::nullopt);
  CHECK(name_of("lower(a)") == std::nullopt);
  CHECK(name_of("lower(a).b") == std::nullopt);
  CHECK(name_of("$key") == std::nullopt);
  CHECK(name_of("$headers.a") == std::nullopt);
  CHECK(name_of("'a'") == std::nullopt);
  CHECK(name_of("a ?? b") == std::nullopt);
}

TEST_CASE("compile_call: name, compiled arguments and their offsets") {
  auto count = call_ok("count()");
  CHECK(count.name == "count");
  CHECK(count.args.empty());
  CHECK(count.arg_offsets.empty());

  auto sum = call_ok("sum(amount * 2)");
  CHECK(sum.name == "sum");
  REQUIRE(sum.args.size() == 1);
  CHECK(sum.args[0].source() == "amount * 2");
  CHECK(sum.arg_offsets == std::vector<std::size_t>{4});
  auto rec = weir::core::parse_json(R"({"amount": 3})");
  REQUIRE(rec.ok());
  auto v = sum.args[0].eval(scope{&*rec, nullptr});
  REQUIRE(v.ok());
  CHECK(*v == weir::core::value(6));

  auto p = call_ok("percentile(amount_eur, 0.95)");
  CHECK(p.name == "percentile");
  REQUIRE(p.args.size() == 2);
  CHECK(p.args[0].source() == "amount_eur");
  CHECK(p.args[0].path_name() == "amount_eur");
  CHECK(p.args[1].source() == "0.95");
  CHECK(p.args[1].static_type() == weir::expr::type::number);
  CHECK(p.arg_offsets == std::vector<std::size_t>{11, 23});

  auto spaced = call_ok("  count_distinct ( (a + b) , lower(c) )  ");
  CHECK(spaced.name == "count_distinct");
  REQUIRE(spaced.args.size() == 2);
  CHECK(spaced.args[0].source() == "(a + b)");
  CHECK(spaced.args[1].source() == "lower(c)");
  CHECK(spaced.arg_offsets == std::vector<std::size_t>{19, 29});

  // A known function name is just a name here.
  CHECK(call_ok("lower(a, b, c)").args.size() == 3);
}

TEST_CASE("compile_call: errors point into the whole source") {
  CHECK(call_error("") == "0: expected a call such as 'count()'");
  CHECK(call_error("count") == "5: expected '(' after 'count'");
  CHECK(call_error("count + 1") == "6: expected '(' after 'count'");
  CHECK(call_error("1 + count()") == "0: expected a call such as 'count()'");
  CHECK(call_error("(count())") == "0: expected a call such as 'count()'");
  CHECK(call_error("count() + 1") == "8: unexpected '+'");
  CHECK(call_error("sum(a") == "5: expected ')' to close '(' at 3");
  CHECK(call_error("sum(a,)") == "6: unexpected ')'");
  CHECK(call_error(R"(sum(a - "x"))") == "6: operator '-' needs numbers, got string");
  CHECK(call_error("sum(x, nope(a))") == "7: unknown function 'nope'");
  CHECK(call_error("sum(lower(a, b))") == "4: function 'lower' takes 1 argument, got 2");
  CHECK(call_error("sum(a b)") == "6: expected ')' to close '(' at 3");
  CHECK(call_error(R"(sum("a)") == "4: unterminated string");
}
