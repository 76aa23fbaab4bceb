#include <catch2/catch.hpp>

#include <map>

#include "support/ops_collect.h"
#include "weir/config/pipeline.h"
#include "weir/core/json.h"
#include "weir/ops/step.h"

using namespace weir;
using test::collect;

namespace {

// One table of rows in a map, as the tables module would serve them.
class fake_tables final : public expr::table_catalog, public expr::table_view {
 public:
  const expr::table_view* find_table(std::string_view name) const noexcept override {
    return name == name_ ? this : nullptr;
  }
  std::string names() const override { return name_; }
  const std::string& name() const noexcept override { return name_; }
  core::result<const core::value*> find(std::string_view key, core::value& scratch) const override {
    auto it = rows.find(std::string(key));
    if (it == rows.end()) return static_cast<const core::value*>(nullptr);
    scratch = it->second;
    return &scratch;
  }
  std::map<std::string, core::value> rows;

 private:
  std::string name_ = "merchants";
};

struct fixture {
  explicit fixture(const std::string& step_yaml) : diag("e.yaml") {
    tables.rows["m1"] = *core::parse_json(R"({"category":"grocery","risk":{"score":0.1}})");
    tables.rows["7"] = *core::parse_json(R"({"category":"fuel","risk":{"score":0.7}})");
    spec = config::load_pipeline_text(
        "pipeline: p\nsource: {topic: in}\nsteps:\n  - " + step_yaml + "\nsink: {topic: out}\n",
        diag);
    REQUIRE(spec);
    ops::build_context ctx{*spec, registry, &tables};
    step = ops::build_step(spec->steps.at(0), ctx, diag);
    if (step) inst = step->instantiate(ops::task_context{});
  }
  core::status push(const std::string& json) {
    auto v = core::parse_json(json);
    REQUIRE(v.ok());
    return inst->process(ops::event{std::move(*v), std::nullopt, 0, nullptr}, out);
  }
  std::vector<std::string> problems() const {
    std::vector<std::string> p;
    for (const auto& d : diag.list()) p.push_back(d.format());
    return p;
  }
  double misses() const {
    const std::string text = registry.render();
    const std::string series = R"(weir_enrich_misses_total{pipeline="p",step="enrich-1"} )";
    auto at = text.find(series);
    return at == std::string::npos ? -1 : std::stod(text.substr(at + series.size()));
  }

  fake_tables tables;
  metrics::registry registry;
  config::diagnostics diag;
  std::optional<config::pipeline_spec> spec;
  std::unique_ptr<ops::step> step;
  std::unique_ptr<ops::step_instance> inst;
  collect out;
};

const char* const step_with = R"(enrich:
      table: merchants
      key: merchant_id
      fields: {merchant_category: category, merchant.risk: risk.score}
      on_miss: )";

}  // namespace

TEST_CASE("enrich copies the chosen fields of the row on a hit") {
  fixture f(std::string(step_with) + "keep");
  REQUIRE(f.problems().empty());
  REQUIRE(f.push(R"({"id":1,"merchant_id":"m1"})").ok());
  REQUIRE(f.push(R"({"id":2,"merchant_id":7})").ok());
  REQUIRE(f.out.values.size() == 2);
  CHECK(f.out.values[0] ==
        R"({"id":1,"merchant_id":"m1","merchant_category":"grocery","merchant":{"risk":0.1}})");
  CHECK(f.out.values[1] ==
        R"({"id":2,"merchant_id":7,"merchant_category":"fuel","merchant":{"risk":0.7}})");
  CHECK(f.misses() == 0);
}

TEST_CASE("enrich without fields copies every field of the row") {
  fixture f("enrich: {table: merchants, key: merchant_id}");
  REQUIRE(f.problems().empty());
  REQUIRE(f.push(R"({"merchant_id":"m1","category":"old"})").ok());
  CHECK(f.out.values.at(0) == R"({"merchant_id":"m1","category":"grocery","risk":{"score":0.1}})");
}

TEST_CASE("enrich on a miss keeps the record with null fields, drops it or fails it") {
  SECTION("keep") {
    fixture f(std::string(step_with) + "keep");
    REQUIRE(f.push(R"({"id":1,"merchant_id":"m9"})").ok());
    REQUIRE(f.push(R"({"id":2})").ok());
    REQUIRE(f.out.values.size() == 2);
    CHECK(f.out.values[0] ==
          R"({"id":1,"merchant_id":"m9","merchant_category":null,"merchant":{"risk":null}})");
    CHECK(f.out.values[1] == R"({"id":2,"merchant_category":null,"merchant":{"risk":null}})");
    CHECK(f.misses() == 2);
  }
  SECTION("drop") {
    fixture f(std::string(step_with) + "drop");
    REQUIRE(f.push(R"({"id":1,"merchant_id":"m9"})").ok());
    REQUIRE(f.push(R"({"id":2,"merchant_id":"m1"})").ok());
    REQUIRE(f.out.values.size() == 1);
    CHECK(f.out.values[0].find(R"("id":2)") != std::string::npos);
    CHECK(f.misses() == 1);
  }
  SECTION("dead_letter") {
    fixture f(std::string(step_with) + "dead_letter");
    auto st = f.push(R"({"id":1,"merchant_id":"m9"})");
    REQUIRE(!st);
    CHECK(st.err().code == core::errc::table_miss);
    CHECK(st.err().message == "no row in table 'merchants' for key 'm9'");
    auto null_key = f.push(R"({"id":2})");
    REQUIRE(!null_key);
    CHECK(null_key.err().message == "the key for table 'merchants' is null");
    CHECK(f.out.values.empty());
    CHECK(f.misses() == 2);
  }
}

TEST_CASE("enrich problems name their position") {
  fixture f(R"(enrich:
      table: shops
      key: merchant_id +
      fields: {a: ""}
      on_miss: ignore
      colour: red)");
  std::vector<std::string> want = {
      "e.yaml:5:14: unknown table 'shops' (declared: merchants)",
      "e.yaml:6:25: enrich.key: unexpected end of expression",
      "e.yaml:7:19: enrich.fields 'a' must be a field name such as 'amount' or 'user.name'",
      "e.yaml:8:16: enrich.on_miss must be keep, drop or dead_letter, found 'ignore'",
      "e.yaml:9:7: unknown key 'colour' in enrich step (expected one of: table, key, fields, "
      "on_miss)",
  };
  CHECK(f.problems() == want);
  CHECK(!f.step);
}

TEST_CASE("lookup in a map step reads the pipeline's tables") {
  fixture f("map:\n      category: lookup(\"merchants\", merchant_id).category ?? \"unknown\"");
  REQUIRE(f.problems().empty());
  REQUIRE(f.push(R"({"merchant_id":"m1"})").ok());
  REQUIRE(f.push(R"({"merchant_id":"m2"})").ok());
  CHECK(f.out.values.at(0) == R"({"merchant_id":"m1","category":"grocery"})");
  CHECK(f.out.values.at(1) == R"({"merchant_id":"m2","category":"unknown"})");
  fixture bad(R"(filter: lookup("shops", id) != null)");
  CHECK(bad.problems() == std::vector<std::string>{
                              "e.yaml:4:20: filter: unknown table 'shops' (declared: merchants)"});
}
