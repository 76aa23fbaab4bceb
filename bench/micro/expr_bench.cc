#include <benchmark/benchmark.h>

#include <string>
#include <variant>

#include "event_samples.h"
#include "weir/core/json.h"
#include "weir/expr/expression.h"

namespace {

using namespace weir;

// A compiled expression and a decoded sample event to evaluate it against.
struct expr_case {
  expr::expression e;
  core::value record;
};

std::optional<expr_case> prepare(benchmark::State& state, std::string_view source) {
  auto compiled = expr::expression::compile(source);
  if (auto* err = std::get_if<expr::syntax_error>(&compiled)) {
    state.SkipWithError(("does not compile: " + err->message).c_str());
    return std::nullopt;
  }
  auto record = core::parse_json(bench::typical_event);
  if (!record) {
    state.SkipWithError("sample event does not parse");
    return std::nullopt;
  }
  return expr_case{std::get<expr::expression>(std::move(compiled)), std::move(*record)};
}

// A filter step's condition, evaluated the way filter steps do (test()).
void bm_filter_test(benchmark::State& state) {
  auto c = prepare(state, R"(status == "approved" and amount > 0)");
  if (!c) return;
  const expr::scope scope{&c->record, nullptr};
  for (auto _ : state) {
    auto r = c->e.test(scope);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_filter_test);

// Arithmetic producing a fresh number (an aggregate argument or a map field).
void bm_arithmetic_eval(benchmark::State& state) {
  auto c = prepare(state, "amount * 1.2 + fee - amount / 100");
  if (!c) return;
  const expr::scope scope{&c->record, nullptr};
  for (auto _ : state) {
    auto r = c->e.eval(scope);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_arithmetic_eval);

// A plain field path, as group_by and keys use it: eval() copies the value,
// eval_ref() points into the record.
void bm_field_eval(benchmark::State& state) {
  auto c = prepare(state, "device.os");
  if (!c) return;
  const expr::scope scope{&c->record, nullptr};
  for (auto _ : state) {
    auto r = c->e.eval(scope);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_field_eval);

void bm_field_eval_ref(benchmark::State& state) {
  auto c = prepare(state, "device.os");
  if (!c) return;
  const expr::scope scope{&c->record, nullptr};
  core::value scratch;
  for (auto _ : state) {
    auto r = c->e.eval_ref(scope, scratch);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_field_eval_ref);

}  // namespace
