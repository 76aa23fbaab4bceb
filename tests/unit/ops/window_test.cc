#include <catch2/catch.hpp>

#include "support/ops_collect.h"
#include "weir/config/pipeline.h"
#include "weir/core/json.h"
#include "weir/ops/step.h"
#include "weir/state/database.h"

using namespace weir;
using test::collect;
using test::side_collect;

namespace {

// One window step built from YAML, with its own in-memory store.
struct fixture {
  explicit fixture(const std::string& window_yaml) : diag("w.yaml") {
    spec = config::load_pipeline_text(
        "pipeline: p\nsource: {topic: in, partitioned_by: user}\nsteps:\n  - id: w\n    window: " +
            window_yaml + "\nsink: {topic: out}\n",
        diag);
    REQUIRE(spec);
    ops::build_context ctx{*spec, registry};
    step = ops::build_step(spec->steps.at(0), ctx, diag);
  }
  std::unique_ptr<ops::step_instance> instance() {
    auto s = db->open_store("p.w");
    REQUIRE(s.ok());
    auto inst = step->instantiate(ops::task_context{0, state::partition_prefix(0), *s, &side});
    REQUIRE(inst->restore().ok());
    return inst;
  }
  void push(ops::step_instance& w, const std::string& json, core::millis t) {
    auto v = core::parse_json(json);
    REQUIRE(v.ok());
    REQUIRE(w.process(ops::event{std::move(*v), std::nullopt, t, nullptr}, out).ok());
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
  std::unique_ptr<state::database> db = state::open_memory();
  collect out;
  side_collect side;
};

const char* per_user =
    "{group_by: [user], tumbling: 10s, allowed_lateness: 2s, aggregate: {n: count(), s: "
    "sum(x), lo: min(x), hi: max(x), mean: avg(x)}}";

}  // namespace

TEST_CASE("tumbling windows are aligned to the epoch and close at end + lateness") {
  fixture f(per_user);
  REQUIRE(f.step);
  auto w = f.instance();
  f.push(*w, R"({"user":"a","x":1})", 0);
  f.push(*w, R"({"user":"a","x":3})", 9999);
  f.push(*w, R"({"user":"b","x":2})", 5000);
  f.push(*w, R"({"user":"a","x":7})", 10000);
  w->on_watermark(11999, f.out);  // end 10000 + lateness 2000 not reached
  CHECK(f.out.values.empty());
  w->on_watermark(12000, f.out);
  REQUIRE(f.out.values.size() == 2);
  CHECK(f.out.values[0] ==
        R"({"user":"a","window_start":0,"window_end":10000,"n":2,"s":4,"lo":1,"hi":3,"mean":2})");
  CHECK(f.out.values[1] ==
        R"({"user":"b","window_start":0,"window_end":10000,"n":1,"s":2,"lo":2,"hi":2,"mean":2})");
  CHECK(f.out.keys[0] == std::optional<std::string>("a"));
  CHECK(f.out.times[0] == 9999);
  w->on_watermark(100000, f.out);
  REQUIRE(f.out.values.size() == 3);
  CHECK(
      f.out.values[2] ==
      R"({"user":"a","window_start":10000,"window_end":20000,"n":1,"s":7,"lo":7,"hi":7,"mean":7})");
}

TEST_CASE("late records never change a closed window and are counted") {
  fixture f(per_user);
  auto w = f.instance();
  f.push(*w, R"({"user":"a","x":1})", 1000);
  w->on_watermark(11000, f.out);
  f.push(*w, R"({"user":"a","x":100})", 9000);  // within lateness: accepted
  w->on_watermark(12000, f.out);
  f.push(*w, R"({"user":"a","x":1000})", 9500);  // window closed: late
  w->on_watermark(50000, f.out);
  REQUIRE(f.out.values.size() == 1);
  CHECK(
      f.out.values[0] ==
      R"({"user":"a","window_start":0,"window_end":10000,"n":2,"s":101,"lo":1,"hi":100,"mean":50.5})");
  CHECK(f.registry.render().find("weir_late_records_total{pipeline=\"p\",step=\"w\"} 1") !=
        std::string::npos);
}

TEST_CASE("negative event times align down") {
  fixture f(per_user);
  auto w = f.instance();
  f.push(*w, R"({"user":"a","x":1})", -1);
  w->on_watermark(2000, f.out);
  REQUIRE(f.out.values.size() == 1);
  CHECK(f.out.values[0].find(R"("window_start":-10000,"window_end":0)") != std::string::npos);
}

TEST_CASE("null arguments are skipped; a window of nulls sums to null") {
  fixture f(per_user);
  auto w = f.instance();
  f.push(*w, R"({"user":"a"})", 1);
  f.push(*w, R"({"user":"a","x":null})", 2);
  w->on_watermark(12000, f.out);
  REQUIRE(f.out.values.size() == 1);
  CHECK(
      f.out.values[0] ==
      R"({"user":"a","window_start":0,"window_end":10000,"n":2,"s":null,"lo":null,"hi":null,"mean":null})");
}

TEST_CASE("a non-numeric argument is a type error that leaves state unchanged") {
  fixture f(per_user);
  auto w = f.instance();
  auto v = core::parse_json(R"({"user":"a","x":"seven"})");
  auto st = w->process(ops::event{std::move(*v), std::nullopt, 1, nullptr}, f.out);
  REQUIRE_FALSE(st.ok());
  CHECK(st.err().code == core::errc::type_error);
  w->on_watermark(12000, f.out);
  CHECK(f.out.values.empty());
}

TEST_CASE("several group fields make a JSON array key") {
  fixture f("{group_by: [user, page], tumbling: 1s, aggregate: {n: count()}}");
  REQUIRE(f.problems().empty());
  auto w = f.instance();
  f.push(*w, R"({"user":"a","page":3})", 10);
  w->on_watermark(1000, f.out);
  REQUIRE(f.out.values.size() == 1);
  CHECK(f.out.keys[0] == std::optional<std::string>(R"(["a",3])"));
  CHECK(f.out.values[0] == R"({"user":"a","page":3,"window_start":0,"window_end":1000,"n":1})");
}

TEST_CASE("state survives a checkpoint and a restore") {
  fixture f(per_user);
  {
    auto w = f.instance();
    f.push(*w, R"({"user":"a","x":1})", 1000);
    f.push(*w, R"({"user":"b","x":5})", 15000);
    state::write_batch b;
    w->checkpoint(b);
    REQUIRE(f.db->write(b).ok());
  }
  auto w = f.instance();  // a new task on the same store
  f.push(*w, R"({"user":"a","x":2})", 2000);
  w->on_watermark(30000, f.out);
  REQUIRE(f.out.values.size() == 2);
  CHECK(f.out.values[0] ==
        R"({"user":"a","window_start":0,"window_end":10000,"n":2,"s":3,"lo":1,"hi":2,"mean":1.5})");
  CHECK(
      f.out.values[1] ==
      R"({"user":"b","window_start":10000,"window_end":20000,"n":1,"s":5,"lo":5,"hi":5,"mean":5})");
  // Closed windows are erased from the store at the next checkpoint.
  state::write_batch b;
  w->checkpoint(b);
  REQUIRE(f.db->write(b).ok());
  auto s = f.db->open_store("p.w");
  int left = 0;
  REQUIRE((*s)->scan(state::partition_prefix(0), [&](auto, auto) { return ++left, true; }).ok());
  CHECK(left == 0);
}

TEST_CASE("window configuration errors carry positions") {
  fixture f(
      "{group_by: [user], tumbling: 10 s, aggregate: {n: \"count(x, y)\", m: p99(x), o: "
      "sum(\"a\")}}");
  CHECK_FALSE(f.step);
  auto p = f.problems();
  REQUIRE(p.size() == 4);
  CHECK(p[0] == "w.yaml:5:42: tumbling: invalid duration '10 s': unknown unit ' s'");
  CHECK(p[1] == "w.yaml:5:73: aggregate 'n': count() takes no argument or one");
  CHECK(p[2] ==
        "w.yaml:5:81: aggregate 'm': unknown aggregate 'p99' (known: count, sum, avg, min, max, "
        "first, last, count_distinct, percentile, top_k, collect)");
  CHECK(p[3] == "w.yaml:5:96: aggregate 'o': sum() needs a number");
}

TEST_CASE("a window names its group fields and keys a record by its group") {
  fixture f("{group_by: [page, user], tumbling: 1s, aggregate: {n: count()}}");
  REQUIRE(f.step);
  REQUIRE(f.step->group_fields());
  CHECK(*f.step->group_fields() == std::vector<std::string>{"page", "user"});
  auto v = core::parse_json(R"({"page":"/a","user":7,"x":1})");
  REQUIRE(v.ok());
  auto k = f.step->group_key(ops::event{std::move(*v), std::nullopt, 0, nullptr});
  REQUIRE(k.ok());
  CHECK(*k == R"(["/a",7])");
  auto missing = core::parse_json(R"({"x":1})");
  auto k2 = f.step->group_key(ops::event{std::move(*missing), std::nullopt, 0, nullptr});
  REQUIRE(k2.ok());
  CHECK(*k2 == "[null,null]");
}

TEST_CASE("stateful steps need an id") {
  config::diagnostics diag("w.yaml");
  auto spec = config::load_pipeline_text(
      "pipeline: p\nsource: {topic: in}\nsteps:\n  - window: {group_by: [u], tumbling: 1s, "
      "aggregate: {n: count()}}\n  - frobnicate: 1\nsink: {topic: out}\n",
      diag);
  metrics::registry reg;
  ops::build_context ctx{*spec, reg};
  CHECK_FALSE(ops::build_step(spec->steps[0], ctx, diag));
  CHECK_FALSE(ops::build_step(spec->steps[1], ctx, diag));
  REQUIRE(diag.list().size() == 2);
  CHECK(diag.list()[0].format().rfind("w.yaml:4:5: window steps keep state and need a stable 'id'",
                                      0) == 0);
  CHECK(diag.list()[1].format() ==
        "w.yaml:5:5: unknown step kind 'frobnicate' (known: filter, map, explode, enrich, dedupe, "
        "window)");
}

namespace {
// Pushes (user, x, time) records and closes everything with a far watermark.
std::vector<std::string> run_all(fixture& f,
                                 std::initializer_list<std::pair<core::millis, int>> recs,
                                 core::millis final_wm = 1'000'000) {
  auto w = f.instance();
  for (auto [t, x] : recs) f.push(*w, R"({"user":"a","x":)" + std::to_string(x) + "}", t);
  w->on_watermark(final_wm, f.out);
  return f.out.values;
}
}  // namespace

TEST_CASE(
    "hopping windows: every window of length size starting at a multiple of advance that holds the "
    "record") {
  fixture f(
      "{group_by: [user], hopping: {size: 10s, advance: 5s}, aggregate: {n: count(), s: sum(x)}}");
  REQUIRE(f.problems().empty());
  auto out = run_all(f, {{1000, 1}, {6000, 2}, {12000, 4}});
  REQUIRE(out.size() == 4);
  CHECK(out[0] == R"({"user":"a","window_start":-5000,"window_end":5000,"n":1,"s":1})");
  CHECK(out[1] == R"({"user":"a","window_start":0,"window_end":10000,"n":2,"s":3})");
  CHECK(out[2] == R"({"user":"a","window_start":5000,"window_end":15000,"n":2,"s":6})");
  CHECK(out[3] == R"({"user":"a","window_start":10000,"window_end":20000,"n":1,"s":4})");
}

TEST_CASE("hopping windows close one by one; a record is dropped only from closed ones") {
  fixture f("{group_by: [user], hopping: {size: 10s, advance: 5s}, aggregate: {s: sum(x)}}");
  auto w = f.instance();
  f.push(*w, R"({"user":"a","x":1})", 7000);
  w->on_watermark(10000, f.out);  // [0,10s) closes
  REQUIRE(f.out.values.size() == 1);
  CHECK(f.out.values[0] == R"({"user":"a","window_start":0,"window_end":10000,"s":1})");
  f.push(*w, R"({"user":"a","x":10})", 8000);  // only [5s,15s) is still open
  w->on_watermark(100000, f.out);
  REQUIRE(f.out.values.size() == 2);
  CHECK(f.out.values[1] == R"({"user":"a","window_start":5000,"window_end":15000,"s":11})");
  f.push(*w, R"({"user":"a","x":10})", 8000);  // every window closed: late
  CHECK(f.side.records.empty());
  CHECK(f.registry.render().find("weir_late_records_total{pipeline=\"p\",step=\"w\"} 1") !=
        std::string::npos);
}

TEST_CASE("sliding windows: the Kafka Streams example gives five windows") {
  // SlidingWindows with a time difference of 5000 ms, records at 8000, 9200
  // and 12400: [3000,8000] [4200,9200] [7400,12400] [8001,13001] [9201,14201].
  fixture f("{group_by: [user], sliding: 5s, aggregate: {n: count(), s: sum(x)}}");
  REQUIRE(f.problems().empty());
  auto out = run_all(f, {{8000, 1}, {9200, 2}, {12400, 4}});
  REQUIRE(out.size() == 5);
  CHECK(out[0] == R"({"user":"a","window_start":3000,"window_end":8000,"n":1,"s":1})");
  CHECK(out[1] == R"({"user":"a","window_start":4200,"window_end":9200,"n":2,"s":3})");
  CHECK(out[2] == R"({"user":"a","window_start":7400,"window_end":12400,"n":3,"s":7})");
  CHECK(out[3] == R"({"user":"a","window_start":8001,"window_end":13001,"n":2,"s":6})");
  CHECK(out[4] == R"({"user":"a","window_start":9201,"window_end":14201,"n":1,"s":4})");
  CHECK(f.out.times[0] == 8000);  // sliding windows include their end
}

TEST_CASE("sliding windows: out-of-order records land in the windows they enter") {
  fixture f("{group_by: [user], sliding: 5s, aggregate: {s: sum(x)}}");
  auto out = run_all(f, {{8000, 1}, {12400, 4}, {9200, 2}});
  REQUIRE(out.size() == 5);
  CHECK(out[0] == R"({"user":"a","window_start":3000,"window_end":8000,"s":1})");
  CHECK(out[1] == R"({"user":"a","window_start":4200,"window_end":9200,"s":3})");
  CHECK(out[2] == R"({"user":"a","window_start":7400,"window_end":12400,"s":7})");
  CHECK(out[3] == R"({"user":"a","window_start":8001,"window_end":13001,"s":6})");
  CHECK(out[4] == R"({"user":"a","window_start":9201,"window_end":14201,"s":4})");
}

TEST_CASE("sliding windows close when the watermark passes end + lateness") {
  fixture f("{group_by: [user], sliding: 5s, aggregate: {s: sum(x)}}");
  auto w = f.instance();
  f.push(*w, R"({"user":"a","x":1})", 8000);
  w->on_watermark(8000, f.out);
  CHECK(f.out.values.empty());  // [3000, 8000] includes 8000: still open
  w->on_watermark(8001, f.out);
  CHECK(f.out.values.size() == 1);
}

TEST_CASE("session windows: records within gap join; a record can merge two sessions") {
  fixture f("{group_by: [user], session: {gap: 5s}, aggregate: {n: count(), s: sum(x)}}");
  REQUIRE(f.problems().empty());
  auto w = f.instance();
  f.push(*w, R"({"user":"a","x":1})", 0);
  f.push(*w, R"({"user":"a","x":2})", 4000);
  f.push(*w, R"({"user":"a","x":4})", 14000);  // a second session
  f.push(*w, R"({"user":"a","x":8})", 9000);   // bridges both
  f.push(*w, R"({"user":"b","x":16})", 100);
  w->on_watermark(19000, f.out);  // a: last 14000 + gap 5000 -> closes past 19000
  REQUIRE(f.out.values.size() == 1);
  CHECK(f.out.values[0] == R"({"user":"b","window_start":100,"window_end":100,"n":1,"s":16})");
  w->on_watermark(19001, f.out);
  REQUIRE(f.out.values.size() == 2);
  CHECK(f.out.values[1] == R"({"user":"a","window_start":0,"window_end":14000,"n":4,"s":15})");
  CHECK(f.out.times[1] == 14000);
  // Within gap of the closed session: late, not a new session beside it.
  f.push(*w, R"({"user":"a","x":100})", 18000);
  w->on_watermark(100000, f.out);
  CHECK(f.out.values.size() == 2);
  CHECK(f.registry.render().find("weir_late_records_total{pipeline=\"p\",step=\"w\"} 1") !=
        std::string::npos);
}

TEST_CASE("late records go unchanged to the late topic") {
  fixture f("{group_by: [user], tumbling: 10s, aggregate: {n: count()}, late: {topic: too-late}}");
  REQUIRE(f.problems().empty());
  auto w = f.instance();
  w->on_watermark(20000, f.out);
  core::record_view src;
  src.topic = "in";
  src.key = "k1";
  src.value = R"({"user":"a", "x":1})";
  src.timestamp_ms = 1234;
  src.headers.push_back({"h", "v"});
  auto v = core::parse_json(*src.value);
  REQUIRE(w->process(ops::event{std::move(*v), std::string("k1"), 5000, &src}, f.out).ok());
  REQUIRE(f.side.records.size() == 1);
  const auto& r = f.side.records[0];
  CHECK(r.topic == "too-late");
  CHECK(r.key == std::optional<std::string>("k1"));
  CHECK(r.value == R"({"user":"a", "x":1})");
  CHECK(r.timestamp_ms == 1234);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0].key == "h");
}

TEST_CASE("emit on_watermark: on-time result, one correction per late record, then final") {
  fixture f(
      "{group_by: [user], tumbling: 10s, allowed_lateness: 5s, aggregate: {s: sum(x)}, emit: "
      "on_watermark}");
  REQUIRE(f.problems().empty());
  auto w = f.instance();
  f.push(*w, R"({"user":"a","x":1})", 1000);
  w->on_watermark(10000, f.out);
  f.push(*w, R"({"user":"a","x":2})", 2000);
  w->on_watermark(15000, f.out);
  REQUIRE(f.out.values.size() == 3);
  CHECK(f.out.values[0] ==
        R"({"user":"a","window_start":0,"window_end":10000,"s":1,"revision":1,"final":false})");
  CHECK(f.out.values[1] ==
        R"({"user":"a","window_start":0,"window_end":10000,"s":3,"revision":2,"final":false})");
  CHECK(f.out.values[2] ==
        R"({"user":"a","window_start":0,"window_end":10000,"s":3,"revision":3,"final":true})");
}

TEST_CASE("emit on_watermark: a session extended after its on-time result gets corrections only") {
  fixture f(
      "{group_by: [user], session: {gap: 5s}, allowed_lateness: 10s, aggregate: {s: sum(x)}, "
      "emit: on_watermark}");
  REQUIRE(f.problems().empty());
  auto w = f.instance();
  f.push(*w, R"({"user":"a","x":1})", 0);
  w->on_watermark(5001, f.out);               // on time: last + gap passed
  f.push(*w, R"({"user":"a","x":2})", 3000);  // extends the session: a correction
  w->on_watermark(8001, f.out);               // the extended session's last + gap: nothing new
  w->on_watermark(18001, f.out);
  REQUIRE(f.out.values.size() == 3);
  CHECK(f.out.values[0] ==
        R"({"user":"a","window_start":0,"window_end":0,"s":1,"revision":1,"final":false})");
  CHECK(f.out.values[1] ==
        R"({"user":"a","window_start":0,"window_end":3000,"s":3,"revision":2,"final":false})");
  CHECK(f.out.values[2] ==
        R"({"user":"a","window_start":0,"window_end":3000,"s":3,"revision":3,"final":true})");
}

TEST_CASE("emit on_watermark without lateness emits one final result") {
  fixture f("{group_by: [user], tumbling: 10s, aggregate: {s: sum(x)}, emit: on_watermark}");
  auto out = run_all(f, {{1000, 1}});
  REQUIRE(out.size() == 1);
  CHECK(out[0] ==
        R"({"user":"a","window_start":0,"window_end":10000,"s":1,"revision":1,"final":true})");
}

TEST_CASE("emit changes: the latest result of changed windows every interval, then final") {
  fixture f("{group_by: [user], tumbling: 10s, aggregate: {s: sum(x)}, emit: {changes: 1s}}");
  REQUIRE(f.problems().empty());
  auto w = f.instance();
  w->on_tick(0, f.out);  // starts the schedule
  f.push(*w, R"({"user":"a","x":1})", 1000);
  f.push(*w, R"({"user":"a","x":2})", 2000);
  w->on_tick(500, f.out);
  CHECK(f.out.values.empty());
  w->on_tick(1000, f.out);
  REQUIRE(f.out.values.size() == 1);
  CHECK(f.out.values[0] ==
        R"({"user":"a","window_start":0,"window_end":10000,"s":3,"revision":1,"final":false})");
  w->on_tick(2000, f.out);  // nothing changed
  CHECK(f.out.values.size() == 1);
  f.push(*w, R"({"user":"a","x":4})", 3000);
  w->on_tick(3000, f.out);
  w->on_watermark(10000, f.out);
  REQUIRE(f.out.values.size() == 3);
  CHECK(f.out.values[1] ==
        R"({"user":"a","window_start":0,"window_end":10000,"s":7,"revision":2,"final":false})");
  CHECK(f.out.values[2] ==
        R"({"user":"a","window_start":0,"window_end":10000,"s":7,"revision":3,"final":true})");
}

TEST_CASE("every window kind survives checkpoint and restore") {
  for (const char* kind : {"tumbling: 10s", "hopping: {size: 10s, advance: 5s}", "sliding: 5s",
                           "session: {gap: 5s}"}) {
    fixture f(std::string("{group_by: [user], ") + kind + ", aggregate: {n: count(), s: sum(x)}}");
    REQUIRE(f.problems().empty());
    std::vector<std::string> expected;
    {
      fixture g(std::string("{group_by: [user], ") + kind +
                ", aggregate: {n: count(), s: sum(x)}}");
      expected = run_all(g, {{1000, 1}, {3000, 2}, {6000, 4}, {8000, 8}});
    }
    {
      auto w = f.instance();
      f.push(*w, R"({"user":"a","x":1})", 1000);
      f.push(*w, R"({"user":"a","x":2})", 3000);
      state::write_batch b;
      w->checkpoint(b);
      REQUIRE(f.db->write(b).ok());
    }
    auto w = f.instance();
    f.push(*w, R"({"user":"a","x":4})", 6000);
    f.push(*w, R"({"user":"a","x":8})", 8000);
    w->on_watermark(1'000'000, f.out);
    CHECK(f.out.values == expected);
  }
}

TEST_CASE("hopping windows skip the empty stretch between distant records") {
  fixture f("{group_by: [user], hopping: {size: 10s, advance: 5s}, aggregate: {s: sum(x)}}");
  auto w = f.instance();
  f.push(*w, R"({"user":"a","x":1})", 2000);
  f.push(*w, R"({"user":"a","x":2})", 100000);
  w->on_watermark(50000, f.out);
  REQUIRE(f.out.values.size() == 2);
  state::write_batch b;
  w->checkpoint(b);
  REQUIRE(f.db->write(b).ok());
  auto again = f.instance();  // restored mid-way: nothing is emitted twice
  again->on_watermark(50000, f.out);
  again->on_watermark(1'000'000, f.out);
  REQUIRE(f.out.values.size() == 4);
  CHECK(f.out.values[0] == R"({"user":"a","window_start":-5000,"window_end":5000,"s":1})");
  CHECK(f.out.values[1] == R"({"user":"a","window_start":0,"window_end":10000,"s":1})");
  CHECK(f.out.values[2] == R"({"user":"a","window_start":95000,"window_end":105000,"s":2})");
  CHECK(f.out.values[3] == R"({"user":"a","window_start":100000,"window_end":110000,"s":2})");
}

TEST_CASE("restored state expires: nothing is left in the store once every window closed") {
  for (const char* kind : {"tumbling: 10s", "hopping: {size: 10s, advance: 5s}", "sliding: 5s",
                           "session: {gap: 5s}"}) {
    fixture f(std::string("{group_by: [user], ") + kind + ", aggregate: {n: count()}}");
    {
      auto w = f.instance();
      f.push(*w, R"({"user":"a","x":1})", 1000);
      f.push(*w, R"({"user":"b","x":1})", 3000);
      state::write_batch b;
      w->checkpoint(b);
      REQUIRE(f.db->write(b).ok());
    }
    auto w = f.instance();
    w->on_watermark(1'000'000, f.out);
    state::write_batch b;
    w->checkpoint(b);
    REQUIRE(f.db->write(b).ok());
    auto s = f.db->open_store("p.w");
    int left = 0;
    REQUIRE((*s)->scan(state::partition_prefix(0), [&](auto, auto) { return ++left, true; }).ok());
    INFO(kind);
    CHECK(left == 0);
    CHECK_FALSE(f.out.values.empty());
  }
}

TEST_CASE("weir_open_windows counts open windows through closes, restores and revokes") {
  // Open windows after the four records, and after the watermark 10001.
  struct kind_case {
    const char* kind;
    double open, after;
  };
  for (const kind_case& k :
       {kind_case{"tumbling: 10s", 3, 1}, kind_case{"hopping: {size: 10s, advance: 5s}", 6, 3},
        kind_case{"sliding: 5s", 5, 1}, kind_case{"session: {gap: 5s}", 3, 1}}) {
    for (const char* emit : {"final", "on_watermark", "{changes: 1s}"}) {
      INFO(k.kind << " emit " << emit);
      fixture f(std::string("{group_by: [user], ") + k.kind + ", emit: " + emit +
                ", aggregate: {n: count()}}");
      REQUIRE(f.problems().empty());
      auto& gauge =
          f.registry.add_gauge("weir_open_windows", "", {{"pipeline", "p"}, {"step", "w"}});
      {
        auto w = f.instance();
        f.push(*w, R"({"user":"a","x":1})", 1000);
        f.push(*w, R"({"user":"a","x":1})", 3000);
        f.push(*w, R"({"user":"b","x":1})", 5000);
        f.push(*w, R"({"user":"a","x":1})", 12000);
        w->on_tick(0, f.out);  // published at ticks and checkpoints
        CHECK(gauge.value() == k.open);
        w->on_watermark(10001, f.out);
        state::write_batch b;
        w->checkpoint(b);
        REQUIRE(f.db->write(b).ok());
        CHECK(gauge.value() == k.after);
      }
      CHECK(gauge.value() == 0);  // the task is gone (revoked)
      auto w = f.instance();
      CHECK(gauge.value() == k.after);  // restored
      w->on_watermark(10001, f.out);
      w->on_watermark(1'000'000, f.out);
      w->on_tick(0, f.out);
      CHECK(gauge.value() == 0);
    }
  }
}
