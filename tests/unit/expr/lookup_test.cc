#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "weir/core/json.h"
#include "weir/expr/expression.h"
#include "weir/expr/table.h"

using weir::core::value;
using weir::expr::expression;
using weir::expr::scope;
using weir::expr::syntax_error;

namespace {

// Rows in a map; counts lookups so that tests see the binding is not folded.
class fake_table final : public weir::expr::table_view {
 public:
  explicit fake_table(std::string n) : name_(std::move(n)) {}
  const std::string& name() const noexcept override { return name_; }
  weir::core::result<const value*> find(std::string_view key, value& scratch) const override {
    ++lookups;
    if (auto it = rows.find(std::string(key)); it != rows.end()) {
      scratch = it->second;
      return &scratch;
    }
    return static_cast<const value*>(nullptr);
  }
  std::map<std::string, value> rows;
  mutable int lookups = 0;

 private:
  std::string name_;
};

class fake_catalog final : public weir::expr::table_catalog {
 public:
  const weir::expr::table_view* find_table(std::string_view name) const noexcept override {
    if (name == fx.name()) return &fx;
    if (name == merchants.name()) return &merchants;
    return nullptr;
  }
  std::string names() const override { return "fx, merchants"; }
  fake_table fx{"fx"};
  fake_table merchants{"merchants"};
};

std::string eval(const fake_catalog& c, const std::string& source, const std::string& record) {
  auto compiled = expression::compile(source, &c);
  if (auto* e = std::get_if<syntax_error>(&compiled)) {
    return "syntax_error@" + std::to_string(e->offset) + ": " + e->message;
  }
  auto r = weir::core::parse_json(record);
  auto v = std::get<expression>(compiled).eval(scope{&*r, nullptr});
  if (!v) return std::string("error: ") + v.err().message;
  return weir::core::to_json(*v);
}

value row(const char* json) {
  return *weir::core::parse_json(json);
}

}  // namespace

TEST_CASE("lookup returns the row of a declared table, or null") {
  fake_catalog c;
  c.fx.rows["USD"] = row(R"({"currency":"USD","rate":0.92})");
  c.merchants.rows["42"] = row(R"({"category":"grocery"})");
  CHECK(eval(c, R"(lookup("fx", currency))", R"({"currency":"USD"})") ==
        R"({"currency":"USD","rate":0.92})");
  CHECK(eval(c, R"(amount * lookup("fx", currency).rate)", R"({"currency":"USD","amount":100})") ==
        "92");
  CHECK(eval(c, R"(lookup("fx", currency))", R"({"currency":"GBP"})") == "null");
  CHECK(eval(c, R"(lookup("fx", currency).rate)", R"({"currency":"GBP"})") == "null");
  CHECK(eval(c, R"(lookup("fx", currency))", R"({})") == "null");
  // Keys that are not strings are looked up by their JSON text.
  CHECK(eval(c, R"(lookup("merchants", m).category)", R"({"m":42})") == R"("grocery")");
  CHECK(eval(c, R"(lookup("merchants", m).category ?? "unknown")", R"({"m":7})") == R"("unknown")");
}

TEST_CASE("lookup is evaluated on every record, never folded") {
  fake_catalog c;
  auto compiled = expression::compile(R"(lookup("fx", "USD").rate)", &c);
  REQUIRE(std::holds_alternative<expression>(compiled));
  const auto& e = std::get<expression>(compiled);
  CHECK(c.fx.lookups == 0);
  value empty = value::object_type{};
  CHECK(e.eval(scope{&empty, nullptr})->is_null());
  c.fx.rows["USD"] = row(R"({"rate":0.9})");
  CHECK(e.eval(scope{&empty, nullptr})->as_number() == 0.9);
  CHECK(c.fx.lookups == 2);
  CHECK(e.static_type() == weir::expr::type::any);
}

TEST_CASE("lookup needs a declared table named by a string literal") {
  fake_catalog c;
  CHECK(eval(c, R"(lookup("rates", c))", "{}") ==
        "syntax_error@7: unknown table 'rates' (declared: fx, merchants)");
  CHECK(eval(c, R"(lookup(name, c))", "{}") ==
        "syntax_error@7: function 'lookup' needs a string literal as argument 1");
  CHECK(eval(c, R"(lookup("fx"))", "{}") ==
        "syntax_error@0: function 'lookup' takes 2 arguments, got 1");
  CHECK(eval(c, R"(lookup("fx", c) + 1)", "{}") ==
        "syntax_error@16: operator '+' needs numbers or strings, got object");
}
