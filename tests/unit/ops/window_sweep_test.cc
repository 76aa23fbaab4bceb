#include <catch2/catch.hpp>

#include <deque>
#include <map>

#include "ops/window_sweep.h"
#include "support/ops_collect.h"
#include "weir/config/pipeline.h"
#include "weir/core/json.h"
#include "weir/ops/aggregate.h"
#include "weir/ops/step.h"
#include "weir/state/database.h"

using namespace weir;

namespace {

// A small deterministic generator, so that a failing case can be replayed.
struct rng {
  std::uint64_t x;
  std::uint64_t next() {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  }
  std::int64_t in(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
};

// The aggregates of a YAML `aggregate:` map, in order.
struct aggregate_set {
  explicit aggregate_set(const std::string& map) : diag("a.yaml") {
    root = config::parse_yaml("aggregate: " + map + "\n", diag);
    REQUIRE(diag.ok());
    for (const auto& e : root->get("aggregate")->entries) {
      aggs.push_back(ops::parse_aggregate(e, diag));
      REQUIRE(aggs.back());
    }
  }
  ops::accumulators fresh() const {
    ops::accumulators a;
    for (const auto& g : aggs) a.push_back(g->create());
    return a;
  }
  static std::string text(const ops::accumulators& acc) {
    std::string out;
    for (const auto& a : acc) out += core::to_json(a->result()) + " ";
    return out;
  }

  config::diagnostics diag;
  std::shared_ptr<const config::node> root;
  std::vector<std::unique_ptr<ops::aggregate>> aggs;
};

const char* order_sensitive =
    "{lo: min(x), hi: max(x), n: count(), f: first(x), l: last(x), c: \"collect(x, 5)\"}";

// An item of the sweep test: the values added at one time.
struct item {
  core::millis time;
  ops::accumulators acc;
};

}  // namespace

TEST_CASE("two-stacks sweep equals a fold of the window's items, with items changed anywhere") {
  aggregate_set set(order_sensitive);
  auto time_of = [](const item& i) { return i.time; };
  auto fold = [](ops::accumulators& into, const item& i) {
    for (std::size_t k = 0; k < into.size(); ++k) into[k]->merge(*i.acc[k]);
  };
  auto fresh = [&] { return set.fresh(); };
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    rng r{seed * 7919};
    const core::millis length = r.in(1, 60);  // window length in time units
    std::deque<item> items;
    ops::window_sweep sweep;
    auto add = [&](core::millis t) {
      auto it = std::lower_bound(items.begin(), items.end(), t,
                                 [](const item& i, core::millis x) { return i.time < x; });
      if (it == items.end() || it->time != t) it = items.insert(it, item{t, set.fresh()});
      const double x = static_cast<double>(r.in(-1000, 1000));
      for (auto& a : it->acc) a->add(core::value{x}, t);
      sweep.changed(t);
    };
    core::millis lo = 0, newest = 0;
    for (int step = 0; step < 400; ++step) {
      // New items ahead, mostly in order; sometimes a change inside the
      // current window (front or back part) or just before it.
      for (int k = r.in(0, 3); k > 0; --k) {
        newest += r.in(0, 3);
        add(newest);
      }
      if (r.in(0, 9) == 0) add(lo + r.in(-2, length));
      // Items before every future window go, as expiry drops them.
      while (!items.empty() && items.front().time < lo - 5) items.pop_front();
      if (r.in(0, 29) == 0) {
        lo -= r.in(1, 10);  // going back starts over
      } else {
        lo += r.in(0, 3);
      }
      const core::millis hi = lo + length;
      ops::accumulators expected = set.fresh();
      for (const auto& i : items) {
        if (i.time >= lo && i.time < hi) fold(expected, i);
      }
      INFO("seed " << seed << " step " << step << " window [" << lo << ", " << hi << ")");
      CHECK(aggregate_set::text(sweep.query(items, lo, hi, time_of, fold, fresh)) ==
            aggregate_set::text(expected));
    }
  }
}

TEST_CASE("lower_bound_near agrees with std::lower_bound from either end") {
  std::vector<core::millis> v;
  auto id = [](core::millis t) { return t; };
  for (int n = 0; n < 40; ++n) {
    for (core::millis t = -2; t <= 2 * n + 2; ++t) {
      auto want = std::lower_bound(v.begin(), v.end(), t);
      CHECK(ops::lower_bound_near(v, t, id, false) == want);
      CHECK(ops::lower_bound_near(v, t, id, true) == want);
    }
    v.push_back(2 * n);
  }
}

namespace {

// A window step over random records, checked against a recomputation of
// every result from the records it accepted. Records come out of order,
// some behind the watermark but within the allowed lateness (changing panes
// or records that the sweeps already folded), some late; the task restarts
// from its checkpoint now and then.
struct checked_run {
  checked_run(const std::string& kind, const std::string& emit, core::millis size,
              core::millis advance, bool sliding, core::millis lateness)
      : set(order_sensitive),
        size(size),
        advance(advance),
        sliding(sliding),
        lateness(lateness),
        diag("w.yaml") {
    spec = config::load_pipeline_text(
        "pipeline: p\nsource: {topic: in, partitioned_by: user}\nsteps:\n  - id: w\n    window: "
        "{group_by: [user], " +
            kind + ", allowed_lateness: " + std::to_string(lateness) +
            "ms, aggregate: " + order_sensitive + ", emit: " + emit + "}\nsink: {topic: out}\n",
        diag);
    REQUIRE(spec);
    ops::build_context ctx{*spec, registry};
    step = ops::build_step(spec->steps.at(0), ctx, diag);
    REQUIRE(step);
  }

  std::unique_ptr<ops::step_instance> instance() {
    auto s = db->open_store("p.w");
    REQUIRE(s.ok());
    auto inst = step->instantiate(ops::task_context{0, state::partition_prefix(0), *s, &side});
    REQUIRE(inst->restore().ok());
    return inst;
  }

  struct accepted {
    std::string user;
    core::millis time;
    double x;
    core::millis watermark;  // when it arrived
  };

  bool closed_at(core::millis wm, core::millis close) const {
    return wm != core::min_time && wm >= close;
  }
  // Whether window [start, end) (hopping) or [start, end] (sliding) was
  // still open when the record arrived.
  bool counted_in(const accepted& a, core::millis start, core::millis end) const {
    const bool inside = a.time >= start && (sliding ? a.time <= end : a.time < end);
    const core::millis close = sliding ? end + 1 + lateness : end + lateness;
    return inside && !closed_at(a.watermark, close);
  }

  // Checks every result emitted since the last call.
  void check_new_results() {
    for (; checked < out.values.size(); ++checked) {
      auto v = core::parse_json(out.values[checked]);
      REQUIRE(v.ok());
      const std::string user = v->find("user")->as_string();
      const auto start = static_cast<core::millis>(v->find("window_start")->as_number());
      const auto end = static_cast<core::millis>(v->find("window_end")->as_number());
      std::vector<const accepted*> in;
      for (const auto& a : records) {
        if (a.user == user && counted_in(a, start, end)) in.push_back(&a);
      }
      std::stable_sort(in.begin(), in.end(),
                       [](const accepted* a, const accepted* b) { return a->time < b->time; });
      ops::accumulators expected = set.fresh();
      for (const accepted* a : in) {
        for (auto& acc : expected) acc->add(core::value{a->x}, a->time);
      }
      std::string got;
      for (const auto& name : {"lo", "hi", "n", "f", "l", "c"}) {
        got += core::to_json(*v->find(name)) + " ";
      }
      INFO(out.values[checked]);
      CHECK(got == aggregate_set::text(expected));
      if (const core::value* revision = v->find("revision")) {
        // Revisions of a window count up from 1, across restarts too.
        auto& last = revisions[{user, start}];
        CHECK(revision->as_number() == last + 1);
        last = static_cast<int>(revision->as_number());
      }
      if (!sliding) {
        CHECK(end - start == size);
        CHECK(core::floor_div(start, advance) * advance == start);
      }
    }
  }

  void run(std::uint64_t seed) {
    rng r{seed * 104729 + 3};
    auto w = instance();
    core::millis newest = 50'000, wm = core::min_time;
    const core::millis out_of_order = r.in(0, 3) * 1000;
    for (int i = 0; i < 250; ++i) {
      core::millis t = newest + r.in(0, 700);
      const auto kind = r.in(0, 9);
      if (kind < 3) t = newest - r.in(0, out_of_order + lateness + 2000);
      newest = std::max(newest, t);
      if (newest - out_of_order > wm && r.in(0, 2) != 0) {
        wm = newest - out_of_order;
        w->on_watermark(wm, out);
        check_new_results();
      }
      const std::string user = r.in(0, 2) == 0 ? "b" : "a";
      const double x = static_cast<double>(r.in(-50, 50));
      const core::millis last_close = sliding
                                          ? t + size + 1 + lateness
                                          : core::floor_div(t, advance) * advance + size + lateness;
      if (!closed_at(wm, last_close)) records.push_back({user, t, x, wm});
      auto v = core::parse_json(R"({"user":")" + user + R"(","x":)" +
                                std::to_string(static_cast<int>(x)) + "}");
      REQUIRE(w->process(ops::event{std::move(*v), std::nullopt, t, nullptr}, out).ok());
      check_new_results();
      if (r.in(0, 3) == 0) w->on_tick(i * 400, out);
      check_new_results();
      if (r.in(0, 24) == 0) {
        state::write_batch b;
        w->checkpoint(b);
        REQUIRE(db->write(b).ok());
        w = instance();  // a restart in the middle of windows
        // As a task does, it announces the checkpointed watermark.
        if (wm != core::min_time) w->on_watermark(wm, out);
        check_new_results();
      }
    }
    w->on_watermark(newest + 10 * size + lateness + 10'000, out);
    check_new_results();
    CHECK_FALSE(out.values.empty());
  }

  aggregate_set set;
  core::millis size, advance;
  bool sliding;
  core::millis lateness;
  metrics::registry registry;
  config::diagnostics diag;
  std::optional<config::pipeline_spec> spec;
  std::unique_ptr<ops::step> step;
  std::unique_ptr<state::database> db = state::open_memory();
  test::collect out;
  test::side_collect side;
  std::vector<accepted> records;
  std::size_t checked = 0;
  std::map<std::pair<std::string, core::millis>, int> revisions;
};

}  // namespace

TEST_CASE("hopping results over many panes equal a recomputation from the records") {
  for (const char* emit : {"final", "on_watermark", "{changes: 1s}"}) {
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      INFO(emit << " seed " << seed);
      checked_run run("hopping: {size: 30s, advance: 1s}", emit, 30'000, 1'000, false, 4'000);
      run.run(seed);
      checked_run uneven("hopping: {size: 10s, advance: 4s}", emit, 10'000, 4'000, false, 3'000);
      uneven.run(seed);
    }
  }
}

TEST_CASE("sliding results equal a recomputation from the records") {
  for (const char* emit : {"final", "on_watermark", "{changes: 1s}"}) {
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      INFO(emit << " seed " << seed);
      checked_run run("sliding: 5s", emit, 5'000, 0, true, 3'000);
      run.run(seed);
    }
  }
}

TEST_CASE("sliding on_watermark: one correction per record within lateness") {
  checked_run f("sliding: 5s", "on_watermark", 5'000, 0, true, 5'000);
  auto w = f.instance();
  auto push = [&](int x, core::millis t) {
    auto v = core::parse_json(R"({"user":"a","x":)" + std::to_string(x) + "}");
    REQUIRE(w->process(ops::event{std::move(*v), std::nullopt, t, nullptr}, f.out).ok());
  };
  push(1, 10000);
  w->on_watermark(10001, f.out);  // [5000, 10000] fires
  REQUIRE(f.out.values.size() == 1);
  push(2, 10000);  // joins the fired window (and is its left window again)
  REQUIRE(f.out.values.size() == 2);
  state::write_batch b;
  w->checkpoint(b);
  REQUIRE(f.db->write(b).ok());
  w = f.instance();  // the revision survives a restart
  CHECK(f.out.values[1].find(R"("window_start":5000,"window_end":10000,"lo":1,"hi":2,"n":2)") !=
        std::string::npos);
  CHECK(f.out.values[1].find(R"("revision":2,"final":false)") != std::string::npos);
  w->on_watermark(20000, f.out);
  REQUIRE(f.out.values.size() == 3);
  CHECK(f.out.values[2].find(R"("revision":3,"final":true)") != std::string::npos);
}
