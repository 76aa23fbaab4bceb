// Fuzz target: the expression language (expr/). Compiles the input as an
// expression and as a top-level call (how aggregates are written); whatever
// compiles is evaluated against a fixed record, with and without Kafka
// metadata. Any crash, sanitizer report or uncaught exception is a bug: user
// text must only ever produce a syntax_error or a type_error.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <variant>

#include "weir/core/json.h"
#include "weir/core/record.h"
#include "weir/expr/expression.h"

namespace {

using namespace weir;

// The record every compiled expression is evaluated against: each JSON kind,
// nesting, an odd key, and metadata with a key and headers.
struct fixed_record {
  fixed_record() {
    auto parsed = core::parse_json(
        R"({"id":7,"amount":12.5,"user":{"name":"ana","tags":["a","b"],"age":null},)"
        R"("items":[{"sku":"x","qty":2},{"sku":"y","qty":-1}],"ok":true,"ts":1700000000000,)"
        R"("text":"Error: disk full at 2024-01-02T03:04:05Z","odd key":"v","big":1e300,"neg":-0.0})");
    value = parsed.ok() ? std::move(*parsed) : core::value{core::value::object_type{}};
    meta.topic = "orders";
    meta.partition = 3;
    meta.offset = 42;
    meta.timestamp_ms = 1'700'000'000'123;
    meta.key = "user-7";
    meta.value = R"({"id":7})";
    meta.headers = {{"trace", "abc"}, {"empty", std::nullopt}};
  }
  core::value value;
  core::record_view meta;
};

void exercise(const expr::expression& e, const fixed_record& r) {
  (void)e.static_type();
  (void)e.path_name();
  for (const core::record_view* meta : {&r.meta, static_cast<const core::record_view*>(nullptr)}) {
    const expr::scope s{&r.value, meta};
    auto v = e.eval(s);
    if (v.ok()) (void)core::to_json(*v);
    core::value scratch;
    auto ref = e.eval_ref(s, scratch);
    if (ref.ok() && *ref) (void)core::to_json(**ref);
    (void)e.test(s);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const fixed_record record;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  auto compiled = expr::expression::compile(text);
  if (auto* e = std::get_if<expr::expression>(&compiled)) {
    exercise(*e, record);
    expr::expression copy = *e;  // compiled expressions are cheap to copy
    exercise(copy, record);
  }

  auto call = expr::compile_call(text);
  if (auto* c = std::get_if<expr::call>(&call)) {
    for (const auto& arg : c->args) exercise(arg, record);
  }
  return 0;
}
