#include <benchmark/benchmark.h>

#include "event_samples.h"
#include "weir/core/json.h"

namespace {

using namespace weir;

// Decoding one record's value into a core::value: the first thing a task does
// with every record (runtime/task.cc).
void bm_parse_json_event(benchmark::State& state) {
  const std::string& text = bench::typical_event;
  for (auto _ : state) {
    auto v = core::parse_json(text);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
  state.SetLabel(std::to_string(text.size()) + " bytes");
}
BENCHMARK(bm_parse_json_event);

// The same for a Nexmark bid, the input of the end-to-end q1 and q2.
void bm_parse_json_bid(benchmark::State& state) {
  const std::string& text = bench::nexmark_bid;
  for (auto _ : state) {
    auto v = core::parse_json(text);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(text.size()));
  state.SetLabel(std::to_string(text.size()) + " bytes");
}
BENCHMARK(bm_parse_json_bid);

// Encoding a decoded event back to JSON: the sink's cost per output record.
void bm_write_json_event(benchmark::State& state) {
  auto v = core::parse_json(bench::typical_event);
  if (!v) {
    state.SkipWithError("sample event does not parse");
    return;
  }
  std::string out;
  for (auto _ : state) {
    out.clear();
    core::write_json(*v, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_write_json_event);

// Encoding a decoded bid into a new string, as the sink does for every output
// record (runtime/task.cc): the string's growth is part of the cost.
void bm_write_json_bid(benchmark::State& state) {
  auto v = core::parse_json(bench::nexmark_bid);
  if (!v) {
    state.SkipWithError("sample bid does not parse");
    return;
  }
  for (auto _ : state) {
    std::string out;
    core::write_json(*v, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_write_json_bid);

}  // namespace
