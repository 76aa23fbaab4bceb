#include <catch2/catch.hpp>

#include <map>

#include "support/ops_collect.h"
#include "weir/config/pipeline.h"
#include "weir/core/json.h"
#include "weir/ops/step.h"
#include "weir/state/database.h"

using namespace weir;

// A window step whose cache budget is tiny evicts every group it can at
// each checkpoint and reads groups back on records and timers: its results
// must equal, record for record, those of a step that keeps everything in
// memory.

namespace {

struct rng {
  std::uint64_t s;
  std::uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  std::int64_t in(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(hi - lo + 1));
  }
};

// One process's view of the step: a database (with its cache budget), the
// step built from YAML, and what it emitted.
struct process {
  process(const std::string& window_yaml, std::uint64_t cache_bytes)
      : db(state::open_memory(cache_bytes)), diag("w.yaml") {
    spec = config::load_pipeline_text(
        "pipeline: p\nsource: {topic: in, partitioned_by: user}\nsteps:\n  - id: w\n    window: " +
            window_yaml + "\nsink: {topic: out}\n",
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
  double gauge(const char* name) {
    return registry.add_gauge(name, "", {{"pipeline", "p"}, {"step", "w"}}).value();
  }
  double late() {
    return registry.add_counter("weir_late_records_total", "", {{"pipeline", "p"}, {"step", "w"}})
        .value();
  }
  // Every entry of the step's store.
  std::map<std::string, std::string> stored() {
    std::map<std::string, std::string> all;
    auto s = db->open_store("p.w");
    REQUIRE((*s)->scan("",
                       [&](std::string_view k, std::string_view v) {
                         all.emplace(k, v);
                         return true;
                       })
                .ok());
    return all;
  }
  // Replaces the step's state with `entries` (a partition moving between
  // processes).
  void adopt(const std::map<std::string, std::string>& entries) {
    auto s = db->open_store("p.w");
    REQUIRE(db->drop_partition(**s, state::partition_prefix(0)).ok());
    state::write_batch b;
    for (const auto& [k, v] : entries) b.put(**s, k, v);
    REQUIRE(db->write(b).ok());
  }

  metrics::registry registry;
  std::unique_ptr<state::database> db;
  config::diagnostics diag;
  std::optional<config::pipeline_spec> spec;
  std::unique_ptr<ops::step> step;
  test::collect out;
  test::side_collect side;
};

// Drives the same random input through an unbounded and a bounded process
// (and, with `migrate`, moves the state between a bounded and an unbounded
// process at restarts), checking that outputs, late records and open-window
// counts agree.
void compare(const std::string& window_yaml, std::uint64_t seed, bool migrate) {
  process plain(window_yaml, 0);
  process tiny(window_yaml, 1);
  process other(window_yaml, migrate ? 0 : 1);  // the bounded run's second home
  process* home = &tiny;
  test::collect bout;  // what the bounded run emits, whichever process
  rng r{seed * 7919 + 11};
  auto a = plain.instance();
  auto b = tiny.instance();
  core::millis newest = 100'000, wm = core::min_time;
  int users = static_cast<int>(r.in(5, 60));
  for (int i = 0; i < 600; ++i) {
    core::millis t = newest + r.in(0, 900);
    if (r.in(0, 9) < 3) t = newest - r.in(0, 9000);  // out of order, some late
    newest = std::max(newest, t);
    const std::string user = "u" + std::to_string(r.in(0, users));
    const std::string rec =
        R"({"user":")" + user + R"(","x":)" + std::to_string(r.in(-20, 50)) + "}";
    for (auto* inst : {a.get(), b.get()}) {
      auto v = core::parse_json(rec);
      REQUIRE(v.ok());
      ops::step_instance& w = *inst;
      REQUIRE(w.process(ops::event{std::move(*v), std::nullopt, t, nullptr},
                        inst == a.get() ? plain.out : bout)
                  .ok());
    }
    if (r.in(0, 2) == 0 && newest - 2000 > wm) {
      wm = newest - 2000 + r.in(0, 1500);
      a->on_watermark(wm, plain.out);
      b->on_watermark(wm, bout);
    }
    if (r.in(0, 3) == 0) {
      a->on_tick(i * 300, plain.out);
      b->on_tick(i * 300, bout);
    }
    if (r.in(0, 4) == 0) {
      state::write_batch ba, bb;
      a->checkpoint(ba);
      b->checkpoint(bb);
      REQUIRE(plain.db->write(ba).ok());
      REQUIRE(home->db->write(bb).ok());
      CHECK(home->gauge("weir_open_windows") == plain.gauge("weir_open_windows"));
      if (r.in(0, 6) == 0) {
        // A restart from the checkpoint: the plain run on its own state,
        // the other moved, with `migrate`, to a process of the other kind.
        a.reset();
        b.reset();
        a = plain.instance();
        process* next = home == &tiny ? &other : &tiny;
        next->adopt(home->stored());
        home = next;
        b = home->instance();
        if (wm != core::min_time) {
          a->on_watermark(wm, plain.out);
          b->on_watermark(wm, bout);
        }
      }
    }
  }
  a->on_watermark(newest + 1'000'000, plain.out);
  b->on_watermark(newest + 1'000'000, bout);
  state::write_batch ba, bb;
  a->checkpoint(ba);
  b->checkpoint(bb);
  REQUIRE(plain.db->write(ba).ok());
  REQUIRE(home->db->write(bb).ok());

  REQUIRE_FALSE(plain.out.values.empty());
  for (std::size_t i = 0; i < std::min(bout.values.size(), plain.out.values.size()); ++i) {
    if (bout.values[i] == plain.out.values[i]) continue;
    INFO("first difference at result " << i << " of " << plain.out.values.size());
    CHECK(bout.values[i] == plain.out.values[i]);
    break;
  }
  CHECK(bout.values == plain.out.values);
  CHECK(bout.keys == plain.out.keys);
  CHECK(bout.times == plain.out.times);
  CHECK(tiny.late() + other.late() == plain.late());
  CHECK(tiny.side.records.size() + other.side.records.size() == plain.side.records.size());
  CHECK(home->gauge("weir_open_windows") == 0);
  // Nothing is left behind: no state, and no marks.
  CHECK(home->stored().size() <= 1);  // the `m` mark (0 open windows) only
  CHECK(plain.stored().empty());
}

const char* kinds[] = {"tumbling: 10s", "hopping: {size: 30s, advance: 5s}",
                       "hopping: {size: 10s, advance: 4s}", "sliding: 5s", "session: {gap: 3s}"};
const char* emits[] = {"final", "on_watermark", "{changes: 1s}"};

std::string window(const char* kind, const char* emit) {
  return std::string("{group_by: [user], ") + kind +
         ", allowed_lateness: 3s, aggregate: {n: count(), s: sum(x), f: first(x), l: last(x)}, "
         "emit: " +
         emit + "}";
}

}  // namespace

TEST_CASE("a window with a tiny cache gives the results of one that keeps everything") {
  for (const char* kind : kinds) {
    for (const char* emit : emits) {
      for (std::uint64_t seed = 1; seed <= 4; ++seed) {
        INFO(kind << " emit " << emit << " seed " << seed);
        compare(window(kind, emit), seed, false);
      }
    }
  }
}

TEST_CASE("window state moves between bounded and unbounded processes at restarts") {
  for (const char* kind : kinds) {
    for (const char* emit : emits) {
      for (std::uint64_t seed = 1; seed <= 2; ++seed) {
        INFO(kind << " emit " << emit << " seed " << seed);
        compare(window(kind, emit), seed, true);
      }
    }
  }
}

TEST_CASE("a bounded window evicts at checkpoints and restores without reading groups") {
  process p(window("tumbling: 10s", "final"), 1);
  auto w = p.instance();
  for (int u = 0; u < 50; ++u) {
    auto v = core::parse_json(R"({"user":"u)" + std::to_string(u) + R"(","x":1})");
    REQUIRE(w->process(ops::event{std::move(*v), std::nullopt, 1000, nullptr}, p.out).ok());
  }
  CHECK(p.db->cache().used() > 0);  // dirty: in memory until the checkpoint
  state::write_batch b;
  w->checkpoint(b);
  REQUIRE(p.db->write(b).ok());
  CHECK(p.db->cache().used() == 0);  // all evicted: the share is one byte
  w.reset();
  w = p.instance();
  CHECK(p.db->cache().used() == 0);  // restored without reading a group
  CHECK(p.gauge("weir_open_windows") == 50);
  w->on_watermark(12'999, p.out);
  CHECK(p.out.values.empty());
  w->on_watermark(13'000, p.out);  // end + allowed lateness
  REQUIRE(p.out.values.size() == 50);
  CHECK(p.out.values[0] ==
        R"({"user":"u0","window_start":0,"window_end":10000,"n":1,"s":1,"f":1,"l":1})");
}

TEST_CASE("a bounded window asks for a checkpoint when new groups fill its share") {
  // 64 KiB for the one task: a group of this window is a few hundred bytes.
  constexpr std::uint64_t share = 64 * 1024;
  process p(window("tumbling: 10s", "final"), share);
  auto w = p.instance();
  int next_user = 0;
  auto add_users = [&](int n) {
    for (int i = 0; i < n; ++i, ++next_user) {
      auto v = core::parse_json(R"({"user":"u)" + std::to_string(next_user) + R"(","x":1})");
      REQUIRE(w->process(ops::event{std::move(*v), std::nullopt, 1000, nullptr}, p.out).ok());
    }
  };
  auto checkpoint = [&] {
    state::write_batch b;
    w->checkpoint(b);
    REQUIRE(p.db->write(b).ok());
  };
  // Without the request, new groups stayed in memory until the commit
  // interval, whatever their number.
  int until_asked = 0;
  while (!w->wants_checkpoint()) {
    add_users(1);
    REQUIRE(++until_asked < 10'000);
  }
  INFO(until_asked << " groups before the first request");
  CHECK(until_asked > 20);
  checkpoint();
  CHECK_FALSE(w->wants_checkpoint());
  CHECK(p.db->cache().used() <= static_cast<std::int64_t>(share));
  // From then on the task asks whenever its estimate reaches the share, and
  // what a checkpoint leaves stays within it.
  for (int round = 0; round < 20; ++round) {
    int added = 0;
    while (!w->wants_checkpoint()) {
      add_users(1);
      REQUIRE(++added < 10'000);
    }
    INFO("round " << round << ": " << added << " groups");
    CHECK(added > 10);  // a quarter of the share, not every record
    CHECK(p.db->cache().used() <= static_cast<std::int64_t>(share * 3 / 2));
    checkpoint();
    CHECK_FALSE(w->wants_checkpoint());
    CHECK(p.db->cache().used() <= static_cast<std::int64_t>(share));
  }
  // Every group counted, whether in memory or not.
  CHECK(p.gauge("weir_open_windows") == next_user);
  w->on_watermark(13'000, p.out);
  CHECK(p.out.values.size() == static_cast<std::size_t>(next_user));
}

TEST_CASE("a window without a memory bound never asks for a checkpoint") {
  process p(window("tumbling: 10s", "final"), 0);
  auto w = p.instance();
  for (int u = 0; u < 5000; ++u) {
    auto v = core::parse_json(R"({"user":"u)" + std::to_string(u) + R"(","x":1})");
    REQUIRE(w->process(ops::event{std::move(*v), std::nullopt, 1000, nullptr}, p.out).ok());
  }
  CHECK_FALSE(w->wants_checkpoint());
}

TEST_CASE("a bounded window counts the new windows of groups it reads back") {
  // Groups leave memory with one window each; their records come back in
  // the next window, each reading its group back and opening a window in
  // it. Those windows count too: a request comes sooner than when each
  // group was new and had one window only.
  constexpr std::uint64_t share = 64 * 1024;
  process p(window("tumbling: 10s", "final"), share);
  auto w = p.instance();
  auto add = [&](int user, core::millis t) {
    auto v = core::parse_json(R"({"user":"u)" + std::to_string(user) + R"(","x":1})");
    REQUIRE(w->process(ops::event{std::move(*v), std::nullopt, t, nullptr}, p.out).ok());
  };
  auto checkpoint = [&] {
    state::write_batch b;
    w->checkpoint(b);
    REQUIRE(p.db->write(b).ok());
  };
  int user = 0;
  int new_groups = 0;  // new groups of one window between the last two requests
  for (int round = 0; round < 4; ++round) {
    new_groups = 0;
    while (!w->wants_checkpoint()) {
      add(user++, 1000);
      REQUIRE(++new_groups < 10'000);
    }
    checkpoint();
  }
  // The earliest users are out of memory now: each reads its group back.
  int read_back = 0;
  for (int u = 0; !w->wants_checkpoint(); ++u) {
    add(u, 11'000);
    REQUIRE(++read_back < 10'000);
  }
  INFO(new_groups << " new groups, " << read_back << " groups read back with a new window");
  CHECK(read_back < new_groups);
}

TEST_CASE("a bounded window restored without its groups does not ask for a checkpoint") {
  // The restored windows are in the store, not opened since: a restart must
  // not count them as new state in memory.
  constexpr std::uint64_t share = 64 * 1024;
  process p(window("tumbling: 10s", "final"), share);
  auto w = p.instance();
  for (int u = 0; u < 300; ++u) {
    auto v = core::parse_json(R"({"user":"u)" + std::to_string(u) + R"(","x":1})");
    REQUIRE(w->process(ops::event{std::move(*v), std::nullopt, 1000, nullptr}, p.out).ok());
    if (w->wants_checkpoint()) {
      state::write_batch b;
      w->checkpoint(b);
      REQUIRE(p.db->write(b).ok());
    }
  }
  state::write_batch b;
  w->checkpoint(b);
  REQUIRE(p.db->write(b).ok());
  w.reset();
  w = p.instance();
  CHECK(p.gauge("weir_open_windows") == 300);
  auto v = core::parse_json(R"({"user":"new","x":1})");
  REQUIRE(w->process(ops::event{std::move(*v), std::nullopt, 1000, nullptr}, p.out).ok());
  CHECK_FALSE(w->wants_checkpoint());
}
