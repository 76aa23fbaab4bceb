#include <catch2/catch.hpp>

#include "support/ops_collect.h"
#include "weir/config/pipeline.h"
#include "weir/core/json.h"
#include "weir/ops/step.h"

using namespace weir;
using test::collect;
using test::side_collect;

namespace {

// One explode step built from the YAML of its body.
struct fixture {
  explicit fixture(const std::string& body) : diag("e.yaml") {
    spec = config::load_pipeline_text(
        "pipeline: p\nsource: {topic: in}\nsteps:\n  - explode: " + body + "\nsink: {topic: out}\n",
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

TEST_CASE("explode emits one record per element, the element replacing the field") {
  fixture f("items");
  REQUIRE(f.problems().empty());
  REQUIRE(f.push(R"({"order":7,"items":[{"sku":"a"},2,null],"n":1})", "o7", 99).ok());
  CHECK(f.out.values == std::vector<std::string>{R"({"order":7,"items":{"sku":"a"},"n":1})",
                                                 R"({"order":7,"items":2,"n":1})",
                                                 R"({"order":7,"items":null,"n":1})"});
  CHECK(f.out.keys == std::vector<std::optional<std::string>>(3, "o7"));
  CHECK(f.out.times == std::vector<core::millis>(3, 99));
}

TEST_CASE("explode with as sets the element there and removes the array") {
  fixture f("{field: order.items, as: line.item}");
  REQUIRE(f.problems().empty());
  REQUIRE(f.push(R"({"order":{"id":7,"items":["a","b"]}})").ok());
  CHECK(f.out.values == std::vector<std::string>{R"({"order":{"id":7},"line":{"item":"a"}})",
                                                 R"({"order":{"id":7},"line":{"item":"b"}})"});
}

TEST_CASE("a missing, null or empty array produces nothing") {
  fixture f("items");
  REQUIRE(f.push(R"({"x":1})").ok());
  REQUIRE(f.push(R"({"items":null})").ok());
  REQUIRE(f.push(R"({"items":[]})").ok());
  CHECK(f.out.values.empty());
}

TEST_CASE("exploding a non-array is a type error") {
  fixture f("items");
  auto st = f.push(R"({"items":{"a":1}})");
  REQUIRE_FALSE(st.ok());
  CHECK(st.err().code == core::errc::type_error);
  CHECK(st.err().message == "explode: 'items' must be an array, found object");
  CHECK(f.out.values.empty());
}

TEST_CASE("explode with as below a non-object is a type error before any output") {
  fixture f("{field: items, as: x.y}");
  auto st = f.push(R"({"items":[1,2],"x":3})");
  REQUIRE_FALSE(st.ok());
  CHECK(st.err().code == core::errc::type_error);
  CHECK(f.out.values.empty());
}

TEST_CASE("explode configuration errors carry positions") {
  fixture bad("{field: a., as: b, to: c}");
  CHECK_FALSE(bad.step);
  auto p = bad.problems();
  REQUIRE(p.size() == 2);
  CHECK(p[0] == "e.yaml:4:24: explode.field: empty segment in field name 'a.'");
  CHECK(p[1].rfind("e.yaml:4:33: unknown key 'to' in explode step", 0) == 0);

  fixture missing("{as: b}");
  REQUIRE(missing.problems().size() == 1);
  CHECK(missing.problems()[0].rfind("e.yaml:4:14: ", 0) == 0);

  fixture list("[a]");
  REQUIRE(list.problems().size() == 1);
  CHECK(list.problems()[0].rfind("e.yaml:4:14: explode takes an array field", 0) == 0);
}
