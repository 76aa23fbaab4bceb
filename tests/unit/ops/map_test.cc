#include <catch2/catch.hpp>

#include "support/ops_collect.h"
#include "weir/config/pipeline.h"
#include "weir/core/json.h"
#include "weir/ops/step.h"

using namespace weir;
using test::collect;
using test::side_collect;

namespace {

// One stateless step built from the YAML of its list entry.
struct fixture {
  explicit fixture(const std::string& step_yaml) : diag("m.yaml") {
    spec = config::load_pipeline_text(
        "pipeline: p\nsource: {topic: in}\nsteps:\n  - " + step_yaml + "\nsink: {topic: out}\n",
        diag);
    REQUIRE(spec);
    ops::build_context ctx{*spec, registry};
    step = ops::build_step(spec->steps.at(0), ctx, diag);
    if (step) inst = step->instantiate(ops::task_context{});
  }
  core::status push(const std::string& json, std::optional<std::string> key = std::nullopt,
                    core::millis t = 0) {
    auto v = core::parse_json(json);
    REQUIRE(v.ok());
    return inst->process(ops::event{std::move(*v), std::move(key), t, nullptr}, out);
  }
  std::vector<std::string> problems() const {
    std::vector<std::string> p;
    for (const auto& d : diag.list()) p.push_back(d.format());
    return p;
  }

  metrics::registry registry;
  config::diagnostics diag;
  std::optional<config::pipeline_spec> spec;
  std::unique_ptr<ops::step> step;
  std::unique_ptr<ops::step_instance> inst;
  collect out;
};

}  // namespace

TEST_CASE("map sets fields in order, each seeing the ones before") {
  fixture f("map: {amount_eur: amount * 0.5, double_eur: amount_eur * 2, amount: null}");
  REQUIRE(f.problems().empty());
  REQUIRE(f.push(R"({"id":1,"amount":10})", "k1", 42).ok());
  REQUIRE(f.out.values.size() == 1);
  // An existing field keeps its place; null keeps the field.
  CHECK(f.out.values[0] == R"({"id":1,"amount":null,"amount_eur":5,"double_eur":10})");
  CHECK(f.out.keys[0] == std::optional<std::string>("k1"));
  CHECK(f.out.times[0] == 42);
}

TEST_CASE("map sets nested fields, creating missing and null objects") {
  fixture f("map: {user.name: upper(user.name), geo.city.code: '\"X\"', meta.a: 1}");
  REQUIRE(f.problems().empty());
  REQUIRE(f.push(R"({"user":{"name":"ann","age":3},"meta":null})").ok());
  REQUIRE(f.out.values.size() == 1);
  CHECK(f.out.values[0] ==
        R"({"user":{"name":"ANN","age":3},"meta":{"a":1},"geo":{"city":{"code":"X"}}})");
}

TEST_CASE("map applies set, then rename, then drop") {
  fixture f(
      "map: {total: a + b}\n    rename: {total: sum, user.id: uid, missing: x}\n"
      "    drop: [a, user, nothing.here]");
  REQUIRE(f.problems().empty());
  REQUIRE(f.push(R"({"a":1,"b":2,"user":{"id":"u1"}})").ok());
  REQUIRE(f.out.values.size() == 1);
  CHECK(f.out.values[0] == R"({"b":2,"sum":3,"uid":"u1"})");
}

TEST_CASE("map with only drop") {
  fixture f("map:\n    drop: card_number");
  REQUIRE(f.problems().empty());
  REQUIRE(f.push(R"({"card_number":"4111","x":1})").ok());
  CHECK(f.out.values == std::vector<std::string>{R"({"x":1})"});
}

TEST_CASE("a runtime type error in map is a record error and emits nothing") {
  fixture f("map: {n: lower(x)}");
  REQUIRE(f.problems().empty());
  auto st = f.push(R"({"x":5})");
  REQUIRE_FALSE(st.ok());
  CHECK(st.err().code == core::errc::type_error);
  CHECK(f.out.values.empty());
}

TEST_CASE("setting below a non-object is a type error") {
  fixture f("map: {user.name: '\"b\"'}");
  auto st = f.push(R"({"user":"ann"})");
  REQUIRE_FALSE(st.ok());
  CHECK(st.err().code == core::errc::type_error);
  CHECK(st.err().message == "cannot set 'user.name': 'user' must be an object, found string");
  CHECK(f.out.values.empty());
}

TEST_CASE("map configuration errors carry positions") {
  fixture f("map: {a: 1 +, b..c: x, d: \"\"}\n    rename: [x]\n    keep: [y]");
  CHECK_FALSE(f.step);
  auto p = f.problems();
  REQUIRE(p.size() == 5);
  CHECK(p[0] == "m.yaml:6:5: unknown key 'keep' in map step");
  CHECK(p[1].rfind("m.yaml:4:17: map 'a': ", 0) == 0);
  CHECK(p[2] == "m.yaml:4:21: map field: empty segment in field name 'b..c'");
  CHECK(p[3] == "m.yaml:4:31: map 'd' must be an expression, found an empty string");
  CHECK(p[4] == "m.yaml:5:13: rename must be a map of old field name to new, such as {old: new}");
}

TEST_CASE("a map step that changes nothing is refused") {
  fixture f("map: {}");
  CHECK_FALSE(f.step);
  REQUIRE(f.problems().size() == 1);
  CHECK(f.problems()[0] ==
        "m.yaml:4:10: map step changes nothing: give fields to set, rename or drop");
}
