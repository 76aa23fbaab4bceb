#include "weir/metrics/registry.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using weir::metrics::histogram;
using weir::metrics::registry;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text)) {
    if (l == line) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("counter renders with help, type and labels") {
  registry r;
  auto& c = r.add_counter("weir_x_total", "Records seen.", {{"pipeline", "p"}});
  c.inc();
  c.inc(2);
  r.add_counter("weir_x_total", "Records seen.", {{"pipeline", "q"}}).inc(5);
  CHECK(r.render() ==
        "# HELP weir_x_total Records seen.\n"
        "# TYPE weir_x_total counter\n"
        "weir_x_total{pipeline=\"p\"} 3\n"
        "weir_x_total{pipeline=\"q\"} 5\n");
}

TEST_CASE("gauge set, add and render") {
  registry r;
  auto& g = r.add_gauge("weir_open_windows", "Open windows.", {{"pipeline", "p"}, {"step", "w"}});
  g.set(10);
  g.add(-2.5);
  g.add(0.5);
  CHECK(g.value() == 8);
  CHECK(r.render() ==
        "# HELP weir_open_windows Open windows.\n"
        "# TYPE weir_open_windows gauge\n"
        "weir_open_windows{pipeline=\"p\",step=\"w\"} 8\n");
}

TEST_CASE("histogram renders cumulative buckets, sum and count") {
  registry r;
  auto& h =
      r.add_histogram("weir_latency_seconds", "End-to-end latency.", {{"pipeline", "p"}}, {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(2);
  const auto lines = lines_of(r.render());
  CHECK(lines == std::vector<std::string>{
                     "# HELP weir_latency_seconds End-to-end latency.",
                     "# TYPE weir_latency_seconds histogram",
                     "weir_latency_seconds_count{pipeline=\"p\"} 3",
                     "weir_latency_seconds_sum{pipeline=\"p\"} 2.55",
                     "weir_latency_seconds_bucket{pipeline=\"p\",le=\"0.1\"} 1",
                     "weir_latency_seconds_bucket{pipeline=\"p\",le=\"1\"} 2",
                     "weir_latency_seconds_bucket{pipeline=\"p\",le=\"+Inf\"} 3",
                 });
}

TEST_CASE("label values are escaped") {
  registry r;
  r.add_counter("weir_errors_total", "Errors.", {{"topic", "a\"b\\c\nd"}}).inc();
  CHECK(has_line(r.render(), "weir_errors_total{topic=\"a\\\"b\\\\c\\nd\"} 1"));
}

TEST_CASE("histogram bucket math") {
  histogram h({1, 2, 5});
  for (double v : {0.5, 1.0, 1.5, 2.0, 5.0, 7.0, -3.0}) h.observe(v);
  const auto s = h.read();
  CHECK(s.bounds == std::vector<double>{1, 2, 5});
  // A value equal to a bound goes into that bound's bucket.
  CHECK(s.cumulative == std::vector<std::uint64_t>{3, 5, 6, 7});
  CHECK(s.count == 7);
  CHECK(s.sum == Approx(14.0));

  SECTION("NaN is ignored") {
    h.observe(std::numeric_limits<double>::quiet_NaN());
    CHECK(h.read().count == 7);
    CHECK(h.read().sum == Approx(14.0));
  }
  SECTION("+Inf goes to the last bucket") {
    h.observe(std::numeric_limits<double>::infinity());
    CHECK(h.read().cumulative == std::vector<std::uint64_t>{3, 5, 6, 8});
  }
}

TEST_CASE("histogram without bounds has only +Inf") {
  histogram h({});
  h.observe(3);
  CHECK(h.read().cumulative == std::vector<std::uint64_t>{1});
  CHECK(h.read().count == 1);
}

TEST_CASE("duration buckets are ascending and span 1 ms to 60 s") {
  const auto b = weir::metrics::duration_buckets();
  REQUIRE(!b.empty());
  CHECK(std::is_sorted(b.begin(), b.end()));
  CHECK(b.front() == 0.001);
  CHECK(b.back() == 60);
}

TEST_CASE("registering the same name and labels returns the same metric") {
  registry r;
  auto& a = r.add_counter("weir_records_total", "Records.", {{"pipeline", "p"}, {"step", "s"}});
  auto& b = r.add_counter("weir_records_total", "Records.", {{"pipeline", "p"}, {"step", "s"}});
  auto& reordered =
      r.add_counter("weir_records_total", "Records.", {{"step", "s"}, {"pipeline", "p"}});
  auto& other = r.add_counter("weir_records_total", "Records.", {{"pipeline", "p"}, {"step", "t"}});
  CHECK(&a == &b);
  CHECK(&a == &reordered);
  CHECK(&a != &other);

  auto& g1 = r.add_gauge("weir_lag", "Lag.");
  auto& g2 = r.add_gauge("weir_lag", "Lag.");
  CHECK(&g1 == &g2);

  auto& h1 = r.add_histogram("weir_d_seconds", "D.", {}, weir::metrics::duration_buckets());
  auto& h2 = r.add_histogram("weir_d_seconds", "D.", {}, weir::metrics::duration_buckets());
  CHECK(&h1 == &h2);

  a.inc(4);
  CHECK(has_line(r.render(), "weir_records_total{pipeline=\"p\",step=\"s\"} 4"));
}

TEST_CASE("references stay valid while many metrics are added") {
  registry r;
  auto& first = r.add_counter("weir_first_total", "First.");
  std::vector<weir::metrics::counter*> all;
  for (int i = 0; i < 2000; ++i) {
    all.push_back(&r.add_counter("weir_many_total", "Many.", {{"partition", std::to_string(i)}}));
    r.add_gauge("weir_family_" + std::to_string(i), "A family.");
  }
  first.inc();
  for (auto* c : all) c->inc();
  CHECK(first.value() == 1);
  CHECK(&r.add_counter("weir_many_total", "Many.", {{"partition", "1999"}}) == all.back());
  CHECK(has_line(r.render(), "weir_many_total{partition=\"1999\"} 1"));
}

TEST_CASE("callback gauges are read at scrape time") {
  registry r;
  double v = 1;
  r.add_callback_gauge("weir_state_bytes", "State size.", {{"pipeline", "p"}}, [&] { return v; });
  CHECK(has_line(r.render(), "weir_state_bytes{pipeline=\"p\"} 1"));
  v = 42;
  CHECK(has_line(r.render(), "weir_state_bytes{pipeline=\"p\"} 42"));

  SECTION("registering again replaces the callback") {
    r.add_callback_gauge("weir_state_bytes", "State size.", {{"pipeline", "p"}},
                         [] { return 7.0; });
    const auto text = r.render();
    CHECK(has_line(text, "weir_state_bytes{pipeline=\"p\"} 7"));
    CHECK(!has_line(text, "weir_state_bytes{pipeline=\"p\"} 42"));
  }
  SECTION("a throwing callback loses its sample only") {
    r.add_callback_gauge("weir_state_bytes", "State size.", {{"pipeline", "q"}},
                         []() -> double { throw std::runtime_error("closed"); });
    const auto text = r.render();
    CHECK(has_line(text, "weir_state_bytes{pipeline=\"p\"} 42"));
    CHECK(text.find("pipeline=\"q\"") == std::string::npos);
  }
}

TEST_CASE("callback counters render as counters") {
  registry r;
  r.add_callback_counter("weir_restored_total", "Restored.", {}, [] { return 12.0; });
  const auto text = r.render();
  CHECK(has_line(text, "# TYPE weir_restored_total counter"));
  CHECK(has_line(text, "weir_restored_total 12"));
}

TEST_CASE("counters and renders from several threads") {
  registry r;
  constexpr int threads = 4;
  constexpr int per_thread = 20000;
  std::atomic<bool> done{false};
  std::atomic<int> empty_renders{0};  // Catch2 assertions are not thread-safe
  r.add_counter("weir_shared_total", "Shared.", {{"pipeline", "p"}});
  std::thread scraper([&] {
    while (!done.load()) {
      if (r.render().empty()) ++empty_renders;
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < threads; ++t) {
    writers.emplace_back([&r, t] {
      auto& shared = r.add_counter("weir_shared_total", "Shared.", {{"pipeline", "p"}});
      auto& own = r.add_counter("weir_own_total", "Own.", {{"thread", std::to_string(t)}});
      auto& g = r.add_gauge("weir_level", "Level.");
      auto& h = r.add_histogram("weir_d_seconds", "D.", {}, {0.5, 1});
      for (int i = 0; i < per_thread; ++i) {
        shared.inc();
        own.inc();
        g.add(1);
        h.observe(i % 2 == 0 ? 0.25 : 0.75);
        if (i % 1000 == 0) {
          r.add_counter("weir_late_total", "Registered while scraping.",
                        {{"thread", std::to_string(t)}, {"i", std::to_string(i)}});
        }
      }
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  scraper.join();

  CHECK(empty_renders == 0);
  const auto text = r.render();
  CHECK(
      has_line(text, "weir_shared_total{pipeline=\"p\"} " + std::to_string(threads * per_thread)));
  CHECK(has_line(text, "weir_own_total{thread=\"3\"} " + std::to_string(per_thread)));
  CHECK(has_line(text, "weir_level " + std::to_string(threads * per_thread)));
  CHECK(has_line(text,
                 "weir_d_seconds_bucket{le=\"0.5\"} " + std::to_string(threads * per_thread / 2)));
  CHECK(has_line(text, "weir_d_seconds_count " + std::to_string(threads * per_thread)));
  CHECK(has_line(text, "weir_d_seconds_sum " + std::to_string(threads * per_thread / 2)));
}
