#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weir/config/diagnostics.h"
#include "weir/config/pipeline.h"
#include "weir/core/json.h"
#include "weir/core/value.h"
#include "weir/metrics/registry.h"
#include "weir/ops/step.h"
#include "weir/state/database.h"

// The window step driven directly, the way a task drives it (runtime/task.cc):
// for each record the watermark is observed first (on_watermark() when it
// advances), then the record goes to process(). Each benchmark iteration is
// one record, so the reported time is the cost per record, closing and
// emission of windows included, amortised over the records.

namespace {

using namespace weir;

// Counts what the step emits and drops it.
class counting_emitter final : public ops::emitter {
 public:
  void emit(ops::event&& e) override {
    benchmark::DoNotOptimize(e);
    ++count_;
  }
  std::uint64_t count() const noexcept { return count_; }

 private:
  std::uint64_t count_ = 0;
};

// Late records are counted by the step; their copies go nowhere.
class discarding_side_output final : public ops::side_output {
 public:
  void write(core::output_record&&) override {}
};

// One window step built from a `window:` body, instantiated for partition 0
// over an in-memory store. Owned by one benchmark; single-threaded.
class window_harness {
 public:
  // nullptr, with the diagnostics in `error`, when the YAML is rejected.
  static std::unique_ptr<window_harness> make(const std::string& window_yaml, std::string& error) {
    auto h = std::unique_ptr<window_harness>(new window_harness());
    const std::string pipeline =
        "pipeline: bench\nsource: {topic: in, partitioned_by: user}\nsteps:\n  - id: w\n    "
        "window: " +
        window_yaml + "\nsink: {topic: out}\n";
    h->spec_ = config::load_pipeline_text(pipeline, h->diag_);
    if (h->spec_) {
      ops::build_context ctx{*h->spec_, h->registry_};
      h->step_ = ops::build_step(h->spec_->steps.at(0), ctx, h->diag_);
    }
    auto store = h->db_->open_store("bench.w");
    if (!h->step_ || !store.ok()) {
      for (const auto& d : h->diag_.list()) error += d.format() + "\n";
      if (error.empty()) error = "window step could not be built";
      return nullptr;
    }
    h->instance_ =
        h->step_->instantiate(ops::task_context{0, state::partition_prefix(0), *store, &h->side_});
    if (!h->instance_->restore().ok()) {
      error = "restore failed";
      return nullptr;
    }
    return h;
  }

  ops::step_instance& step() noexcept { return *instance_; }
  counting_emitter& out() noexcept { return out_; }
  // The state changed since the last checkpoint, encoded and dropped: keeps
  // the step's change tracking bounded as a running task's commits do.
  void checkpoint() {
    state::write_batch batch;
    instance_->checkpoint(batch);
  }

 private:
  window_harness() = default;

  metrics::registry registry_;
  config::diagnostics diag_{"bench.yaml"};
  std::optional<config::pipeline_spec> spec_;
  std::unique_ptr<ops::step> step_;
  std::unique_ptr<state::database> db_ = state::open_memory();
  counting_emitter out_;
  discarding_side_output side_;
  std::unique_ptr<ops::step_instance> instance_;
};

// An in-order stream of small events over `groups` keys: `records_per_ms`
// records share each millisecond of event time, each of a group picked
// pseudo-randomly (uniformly). So every group sees about records_per_ms
// records per second of event time.
class synthetic_stream {
 public:
  static constexpr core::millis start_time = 1'714'521'600'000;  // 2024-05-01T00:00:00Z

  synthetic_stream(int groups, int records_per_ms) : records_per_ms_(records_per_ms) {
    values_.reserve(static_cast<std::size_t>(groups));
    for (int g = 0; g < groups; ++g) values_.push_back(sample_value(g));
    order_.resize(order_size);
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (auto& o : order_) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      o = static_cast<std::uint32_t>(x % static_cast<std::uint64_t>(groups));
    }
  }

  // A record of group g: a user id key, as pipelines group by, and an amount.
  static core::value sample_value(int g) {
    char user[16];
    std::snprintf(user, sizeof user, "user-%06d", g);
    core::value::object_type o;
    o.push_back({"user", core::value{std::string(user)}});
    o.push_back({"status", core::value{"approved"}});
    o.push_back({"amount", core::value{static_cast<double>(g % 97) + 0.5}});
    o.push_back({"country", core::value{"DE"}});
    return core::value{std::move(o)};
  }

  // The next record; its value is a copy of its group's prebuilt value.
  ops::event next() {
    const std::uint64_t i = next_++;
    const core::millis t = start_time + static_cast<core::millis>(i / records_per_ms_);
    return ops::event{values_[order_[i % order_size]], std::nullopt, t, nullptr};
  }
  core::millis time_of_next() const noexcept {
    return start_time + static_cast<core::millis>(next_ / records_per_ms_);
  }

 private:
  static constexpr std::size_t order_size = 1 << 16;
  std::uint64_t records_per_ms_;
  std::vector<core::value> values_;
  std::vector<std::uint32_t> order_;
  std::uint64_t next_ = 0;
};

// A window step fed by a stream, in steady state: its state holds every
// window and pane a long-running task would hold.
struct window_run {
  std::string name;
  std::unique_ptr<window_harness> harness;
  synthetic_stream stream;
  core::millis out_of_orderness = 1000;
  core::millis watermark = core::min_time;

  // One record, as runtime/task.cc handles it: watermark first, then the
  // record. `watermark_stride` 0 advances the watermark with every record
  // that raises it (what the task does); N > 0 only every N ms of event time.
  void feed_one(core::millis watermark_stride) {
    ops::event e = stream.next();
    const core::millis candidate = e.time - out_of_orderness;
    if (candidate > watermark &&
        (watermark_stride == 0 || candidate >= watermark + watermark_stride)) {
      watermark = candidate;
      harness->step().on_watermark(watermark, harness->out());
    }
    auto st = harness->step().process(std::move(e), harness->out());
    benchmark::DoNotOptimize(st);
  }
};

// Building a steady state takes seconds for long windows, and Google
// Benchmark calls a benchmark function several times while it sizes the
// iteration count; the last run is kept and continues its stream.
window_run* steady_run(benchmark::State& state, const std::string& name,
                       const std::string& window_yaml, int groups, int records_per_ms,
                       core::millis warm_span) {
  static std::unique_ptr<window_run> cached;
  if (cached && cached->name == name) return cached.get();
  cached.reset();  // at most one large state alive at a time
  std::string error;
  auto h = window_harness::make(window_yaml, error);
  if (!h) {
    state.SkipWithError(error.c_str());
    return nullptr;
  }
  cached = std::make_unique<window_run>(
      window_run{name, std::move(h), synthetic_stream(groups, records_per_ms)});
  // Fill the state: a watermark step per second of event time yields the
  // same windows and panes as one per record, at a fraction of the time.
  const core::millis until = synthetic_stream::start_time + warm_span;
  while (cached->stream.time_of_next() < until) cached->feed_one(1000);
  // Then catch the watermark up, so that timing starts in the steady state.
  const core::millis wm = cached->stream.time_of_next() - 1 - cached->out_of_orderness;
  if (wm > cached->watermark) {
    cached->watermark = wm;
    cached->harness->step().on_watermark(wm, cached->harness->out());
  }
  cached->harness->checkpoint();
  return cached.get();
}

// Runs records through a steady window step. One iteration is one second of
// event time (1000 * records_per_ms records), so that every iteration
// includes the same share of window closing and emission; a checkpoint,
// untimed, follows each. `per_record` is the time per record (seconds, shown
// with an SI prefix: n, u, m).
void run_seconds(benchmark::State& state, window_run& run, int records_per_ms,
                 core::millis watermark_stride) {
  const std::uint64_t emitted_before = run.harness->out().count();
  const std::int64_t per_iteration = 1000 * static_cast<std::int64_t>(records_per_ms);
  for (auto _ : state) {
    for (std::int64_t i = 0; i < per_iteration; ++i) run.feed_one(watermark_stride);
    state.PauseTiming();
    run.harness->checkpoint();
    state.ResumeTiming();
  }
  const double records = static_cast<double>(state.iterations() * per_iteration);
  state.SetItemsProcessed(state.iterations() * per_iteration);
  state.counters["per_record"] = benchmark::Counter(
      static_cast<double>(per_iteration),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["results_per_record"] = benchmark::Counter(
      static_cast<double>(run.harness->out().count() - emitted_before) / records);
}

const std::string aggregates = "aggregate: {n: count(), total: sum(amount)}";

std::string seconds(std::int64_t s) {
  return std::to_string(s) + "s";
}

// Baseline: copying a prebuilt record value into an event, which every
// window benchmark does once per record; subtract it to get the step's cost.
void bm_event_copy(benchmark::State& state) {
  synthetic_stream stream(1000, 1);
  for (auto _ : state) {
    ops::event e = stream.next();
    benchmark::DoNotOptimize(e);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_event_copy);

// One window update per record (count + sum into an open tumbling window of
// one of 1000 groups), no window ever closing: group key evaluation and
// encoding, argument evaluation, window lookup and accumulator update.
void bm_window_update(benchmark::State& state) {
  std::string error;
  auto h = window_harness::make("{group_by: [user], tumbling: 1h, " + aggregates + "}", error);
  if (!h) {
    state.SkipWithError(error.c_str());
    return;
  }
  synthetic_stream stream(1000, 1000);  // 1000 records per ms: the hour never ends
  std::uint64_t n = 0;
  for (auto _ : state) {
    auto st = h->step().process(stream.next(), h->out());
    benchmark::DoNotOptimize(st);
    if (++n % (1 << 16) == 0) {
      state.PauseTiming();
      h->checkpoint();
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_window_update);

// Tumbling windows of size arg0 seconds; 1000 groups, arg1 records per ms.
void bm_tumbling(benchmark::State& state) {
  const std::int64_t size = state.range(0);
  const int rate = static_cast<int>(state.range(1));
  const std::string yaml =
      "{group_by: [user], tumbling: " + seconds(size) + ", " + aggregates + "}";
  window_run* run = steady_run(state, "tumbling/" + yaml + std::to_string(rate), yaml, 1000, rate,
                               (size + 5) * 1000);
  if (run) run_seconds(state, *run, rate, 0);
}
BENCHMARK(bm_tumbling)->ArgNames({"size_s", "rec_per_ms"})->ArgsProduct({{1, 10}, {1, 10}});

// Hopping windows {size: arg0 s, advance: 1s}: size / advance = arg0, panes of
// 1s. 1000 groups, arg1 records per ms (arg1 records per group per second).
// The cost per record should not grow with arg0.
void bm_hopping(benchmark::State& state) {
  const std::int64_t ratio = state.range(0);
  const int rate = static_cast<int>(state.range(1));
  const std::string yaml = "{group_by: [user], hopping: {size: " + seconds(ratio) +
                           ", advance: 1s}, " + aggregates + "}";
  window_run* run = steady_run(state, "hopping/" + yaml + std::to_string(rate), yaml, 1000, rate,
                               (ratio + 5) * 1000);
  if (run) run_seconds(state, *run, rate, 0);
}
BENCHMARK(bm_hopping)
    ->ArgNames({"ratio", "rec_per_ms"})
    ->ArgsProduct({{1, 2, 10, 60, 600}, {1, 10}});

// As bm_hopping, with the watermark raised only every 100 ms of event time
// instead of with every record: separates the work done per watermark
// advance from the work done per record.
void bm_hopping_batched_watermark(benchmark::State& state) {
  const std::int64_t ratio = state.range(0);
  const int rate = static_cast<int>(state.range(1));
  const std::string yaml = "{group_by: [user], hopping: {size: " + seconds(ratio) +
                           ", advance: 1s}, " + aggregates + "}";
  window_run* run = steady_run(state, "hopping/" + yaml + std::to_string(rate), yaml, 1000, rate,
                               (ratio + 5) * 1000);
  if (run) run_seconds(state, *run, rate, 100);
}
BENCHMARK(bm_hopping_batched_watermark)
    ->ArgNames({"ratio", "rec_per_ms"})
    ->ArgsProduct({{1, 10, 60, 600}, {1}});

// As bm_hopping with emit: on_watermark and allowed_lateness 2s: each
// window publishes an on-time result, then a final one. No record arrives
// behind the watermark, so there are no corrections; what grows with arg0
// is the window entry a record updates for each window containing it.
void bm_hopping_on_watermark(benchmark::State& state) {
  const std::int64_t ratio = state.range(0);
  const int rate = static_cast<int>(state.range(1));
  const std::string yaml = "{group_by: [user], hopping: {size: " + seconds(ratio) +
                           ", advance: 1s}, allowed_lateness: 2s, emit: on_watermark, " +
                           aggregates + "}";
  window_run* run = steady_run(state, "hopping_on_watermark/" + yaml + std::to_string(rate), yaml,
                               1000, rate, (ratio + 7) * 1000);
  if (run) run_seconds(state, *run, rate, 0);
}
BENCHMARK(bm_hopping_on_watermark)
    ->ArgNames({"ratio", "rec_per_ms"})
    ->ArgsProduct({{1, 10, 60}, {1}});

// Sliding windows of time difference arg0 seconds; 1000 groups, arg1 records
// per ms (arg1 records per group per second), so a window holds about
// arg0 * arg1 records of its group.
void bm_sliding(benchmark::State& state) {
  const std::int64_t d = state.range(0);
  const int rate = static_cast<int>(state.range(1));
  const std::string yaml = "{group_by: [user], sliding: " + seconds(d) + ", " + aggregates + "}";
  window_run* run = steady_run(state, "sliding/" + yaml + std::to_string(rate), yaml, 1000, rate,
                               (2 * d + 5) * 1000);
  if (run) run_seconds(state, *run, rate, 0);
}
BENCHMARK(bm_sliding)->ArgNames({"d_s", "rec_per_ms"})->ArgsProduct({{1, 10, 60}, {1}});

}  // namespace
