#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "weir/config/pipeline.h"
#include "weir/core/json.h"
#include "weir/ops/aggregate.h"

using namespace weir;

// Accuracy of the sketch aggregates (count_distinct, percentile, top_k) on
// larger inputs, and decode on corrupted state. Inputs are seeded, so the
// measured errors are the same on every run.

namespace {

std::unique_ptr<ops::aggregate> make(const std::string& text) {
  config::diagnostics diag("a.yaml");
  auto root = config::parse_yaml("aggregate:\n  agg: " + text + "\n", diag);
  REQUIRE(diag.ok());
  auto a = ops::parse_aggregate(root->get("aggregate")->entries.at(0), diag);
  REQUIRE(diag.ok());
  REQUIRE(a);
  return a;
}

double distinct_of(const ops::accumulator& acc) {
  return acc.result().as_number();
}

void add_strings(ops::accumulator& acc, const std::string& prefix, long from, long to) {
  for (long i = from; i < to; ++i) acc.add(core::value{prefix + std::to_string(i)}, 0);
}

std::size_t state_size(const ops::accumulator& acc) {
  std::string bytes;
  acc.encode(bytes);
  return bytes.size();
}

}  // namespace

TEST_CASE("aggregate: count_distinct stays within its error bound", "[aggregate]") {
  auto a = make("count_distinct(x)");
  for (long n : {600L, 5'000L, 41'000L, 100'000L, 1'000'000L}) {
    auto acc = a->create();
    add_strings(*acc, "user-", 0, n);
    add_strings(*acc, "user-", 0, n / 2);  // repeats change nothing
    const double error = std::fabs(distinct_of(*acc) - static_cast<double>(n)) / n;
    INFO("n = " << n << ", estimate " << distinct_of(*acc));
    CHECK(error < 0.03);
  }

  // Standard error over independent sets: 1.04 / sqrt(16384) = 0.81%.
  double squares = 0;
  const int trials = 24;
  for (int t = 0; t < trials; ++t) {
    auto acc = a->create();
    add_strings(*acc, "t" + std::to_string(t) + "-", 0, 50'000);
    const double e = (distinct_of(*acc) - 50'000) / 50'000;
    squares += e * e;
  }
  const double rms = std::sqrt(squares / trials);
  INFO("rms relative error " << rms);
  CHECK(rms < 0.0125);
}

TEST_CASE("aggregate: count_distinct merges exactly and stores compactly", "[aggregate]") {
  auto a = make("count_distinct(x)");
  auto whole = a->create();
  add_strings(*whole, "k", 0, 100'000);
  auto left = a->create();
  auto right = a->create();
  add_strings(*left, "k", 0, 60'000);
  add_strings(*right, "k", 40'000, 100'000);
  left->merge(*right);
  CHECK(distinct_of(*left) == distinct_of(*whole));

  // Exact below the sparse limit, also across merges.
  auto small = a->create();
  auto other = a->create();
  add_strings(*small, "k", 0, 300);
  add_strings(*other, "k", 200, 512);
  small->merge(*other);
  CHECK(distinct_of(*small) == 512);
  CHECK(state_size(*small) == 4 + 512 * 8);  // tag, mode, two-byte count, hashes
  add_strings(*small, "k", 512, 513);        // one more: dense
  CHECK(std::fabs(distinct_of(*small) - 513) < 0.03 * 513);
  CHECK(state_size(*small) == 2 + 16384 * 6 / 8);

  auto tiny = a->create();
  add_strings(*tiny, "k", 0, 3);
  CHECK(state_size(*tiny) == 3 + 3 * 8);
}

namespace {

// The value of 0-based rank floor(q * (n - 1)) of `sorted`.
double exact_quantile(const std::vector<double>& sorted, double q) {
  return sorted[static_cast<std::size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)))];
}

// Checks percentile(x, q) against the exact rank for several q; returns the
// largest relative error seen.
double check_percentiles(std::vector<double> values) {
  double worst = 0;
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1.0}) {
    auto a = make("percentile(x, " + std::to_string(q) + ")");
    auto acc = a->create();
    // Four parts merged: the same sketch as one.
    std::vector<std::unique_ptr<ops::accumulator>> parts;
    for (int i = 0; i < 4; ++i) parts.push_back(a->create());
    for (std::size_t i = 0; i < values.size(); ++i) {
      acc->add(core::value{values[i]}, 0);
      parts[i % 4]->add(core::value{values[i]}, 0);
    }
    for (int i = 1; i < 4; ++i) parts[0]->merge(*parts[static_cast<std::size_t>(i)]);
    const double want = exact_quantile(values, q);
    const double got = acc->result().as_number();
    const double error = want == 0 ? std::fabs(got) : std::fabs(got - want) / std::fabs(want);
    INFO("q = " << q << ": " << got << " vs exact " << want);
    CHECK(error <= 0.01 + 1e-9);
    CHECK(core::to_json(parts[0]->result()) == core::to_json(acc->result()));
    worst = std::max(worst, error);
  }
  return worst;
}

}  // namespace

TEST_CASE("aggregate: percentile is within 1% of the exact rank", "[aggregate]") {
  std::mt19937_64 rng(42);
  const int n = 100'000;
  std::vector<double> values(n);

  SECTION("uniform") {
    std::uniform_real_distribution<double> d(0, 1000);
    for (auto& v : values) v = d(rng);
    CHECK(check_percentiles(values) <= 0.01 + 1e-9);
  }
  SECTION("exponential") {
    std::exponential_distribution<double> d(0.01);
    for (auto& v : values) v = d(rng);
    CHECK(check_percentiles(values) <= 0.01 + 1e-9);
  }
  SECTION("log-normal, heavy tailed") {
    std::lognormal_distribution<double> d(3, 2);
    for (auto& v : values) v = d(rng);
    CHECK(check_percentiles(values) <= 0.01 + 1e-9);
  }
  SECTION("normal around zero, with zeros and negatives") {
    std::normal_distribution<double> d(0, 100);
    for (auto& v : values) v = (rng() % 20 == 0) ? 0.0 : d(rng);
    CHECK(check_percentiles(values) <= 0.01 + 1e-9);
  }
  SECTION("integers, as latencies in milliseconds") {
    std::geometric_distribution<int> d(0.002);
    for (auto& v : values) v = 1 + d(rng);
    CHECK(check_percentiles(values) <= 0.01 + 1e-9);
  }
}

TEST_CASE("aggregate: percentile bins are bounded; the smallest values collapse", "[aggregate]") {
  // 1e-300 .. 1e300 needs about 69000 bins at 1%: only the top 2048 are kept.
  auto a = make("percentile(x, 0.99)");
  auto acc = a->create();
  std::vector<double> values;
  for (int e = -300; e <= 300; ++e) {
    for (int i = 1; i <= 9; ++i) values.push_back(i * std::pow(10.0, e));
  }
  for (double v : values) acc->add(core::value{v}, 0);
  std::sort(values.begin(), values.end());
  const double want = exact_quantile(values, 0.99);
  CHECK(std::fabs(acc->result().as_number() - want) / want <= 0.01 + 1e-9);
  CHECK(state_size(*acc) < 2048 * 3 + 64);
}

TEST_CASE("aggregate: top_k beyond its exact capacity keeps heavy hitters", "[aggregate]") {
  // Zipf-like over 5000 values: far more than the capacity of 100 for k = 10.
  std::mt19937_64 rng(3);
  std::vector<double> weights;
  for (int i = 1; i <= 5000; ++i) weights.push_back(1.0 / std::pow(i, 1.2));
  std::discrete_distribution<int> zipf(weights.begin(), weights.end());
  const int n = 200'000;
  std::vector<int> stream(n);
  std::map<int, std::uint64_t> truth;
  for (auto& v : stream) ++truth[v = zipf(rng)];

  auto a = make("top_k(x, 10)");
  auto whole = a->create();
  std::vector<std::unique_ptr<ops::accumulator>> parts;
  for (int i = 0; i < 4; ++i) parts.push_back(a->create());
  for (int i = 0; i < n; ++i) {
    core::value v{static_cast<double>(stream[static_cast<std::size_t>(i)])};
    whole->add(v, 0);
    parts[static_cast<std::size_t>(i * 4 / n)]->add(v, 0);
  }
  for (int i = 1; i < 4; ++i) parts[0]->merge(*parts[static_cast<std::size_t>(i)]);

  const double bound = static_cast<double>(n) / 100;  // N / capacity
  for (const auto* acc : {whole.get(), parts[0].get()}) {
    const auto result = acc->result();
    REQUIRE(result.as_array().size() == 10);
    for (std::size_t i = 0; i < 10; ++i) {
      const auto& item = result.as_array()[i];
      const int value = static_cast<int>(item.find("value")->as_number());
      const double count = item.find("count")->as_number();
      INFO("rank " << i << ": value " << value << " count " << count << " true " << truth[value]);
      // The heaviest values are found, in order, with overestimated counts.
      CHECK(value == static_cast<int>(i));
      CHECK(count >= static_cast<double>(truth[value]));
      CHECK(count - static_cast<double>(truth[value]) <= bound);
    }
  }
}

TEST_CASE("aggregate: decode survives corrupted state", "[aggregate]") {
  std::mt19937_64 rng(11);
  const char* texts[] = {"count()",
                         "sum(x)",
                         "avg(x)",
                         "min(x)",
                         "max(x)",
                         "first(x)",
                         "last(x)",
                         "count_distinct(x)",
                         "percentile(x, 0.5)",
                         "top_k(x, 3)",
                         "collect(x, 5)"};
  for (const char* text : texts) {
    INFO(text);
    auto a = make(text);
    std::vector<std::string> states;
    for (int size : {0, 3, 40, 700}) {
      auto acc = a->create();
      for (int i = 0; i < size; ++i) {
        core::value v{static_cast<double>(static_cast<int>(rng() % 1000) - 100)};
        if (a->check(core::value{"s"}).ok() && i % 3 == 0) v = core::value{"s" + std::to_string(i)};
        acc->add(v, static_cast<core::millis>(rng() % 100));
      }
      std::string bytes;
      acc->encode(bytes);
      states.push_back(std::move(bytes));
    }
    for (int round = 0; round < 3000; ++round) {
      std::string bytes = states[rng() % states.size()];
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int f = 0; f < flips && !bytes.empty(); ++f) {
        switch (rng() % 3) {
          case 0:
            bytes[rng() % bytes.size()] ^= static_cast<char>(1 << (rng() % 8));
            break;
          case 1:
            bytes[rng() % bytes.size()] = static_cast<char>(rng());
            break;
          default:
            bytes.resize(rng() % bytes.size());
            break;
        }
      }
      auto acc = a->create();
      std::string_view in = bytes;
      if (acc->decode(in)) {
        // Whatever decoded is usable.
        (void)acc->result();
        std::string again;
        acc->encode(again);
        auto other = a->create();
        other->merge(*acc);
        acc->merge(*other);
      } else {
        CHECK(in.size() == bytes.size());
      }
    }
  }
}
