#include "weir/metrics/registry.h"

#include <prometheus/check_names.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <variant>

namespace weir::metrics {

namespace {

enum class kind : int { counter, gauge, histogram, callback_gauge, callback_counter };

const char* kind_name(kind k) {
  switch (k) {
    case kind::counter:
      return "counter";
    case kind::gauge:
      return "gauge";
    case kind::histogram:
      return "histogram";
    case kind::callback_gauge:
      return "callback gauge";
    case kind::callback_counter:
      return "callback counter";
  }
  return "?";
}

// Registration mistakes are programmer errors, but they must not turn into a
// wrong reference in release builds (where assert is compiled out), so the
// check stays on in every build.
[[noreturn]] void misuse(const std::string& name, const std::string& what) {
  std::fprintf(stderr, "weir: metrics: %s: %s\n", name.c_str(), what.c_str());
  std::fflush(stderr);
  assert(false && "metrics registry misuse");
  std::abort();
}

// Label sets are compared regardless of order, so {a,b} and {b,a} are one series.
labels sorted(labels l) {
  std::sort(l.begin(), l.end());
  return l;
}

}  // namespace

void gauge::add(double d) noexcept {
  double cur = v_.load(std::memory_order_relaxed);
  while (!v_.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

histogram::histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {
  assert(std::is_sorted(bounds_.begin(), bounds_.end()));
  assert(std::adjacent_find(bounds_.begin(), bounds_.end()) == bounds_.end());
}

void histogram::observe(double v) noexcept {
  if (std::isnan(v)) return;  // would corrupt the sum for good; no bucket holds it
  // First bound >= v; past the end is the +Inf bucket.
  const auto i = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                          bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  double cur = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

histogram::snapshot histogram::read() const {
  snapshot s;
  s.bounds = bounds_;
  s.cumulative.reserve(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  // The count is taken from the buckets so that it always equals the +Inf
  // bucket; the sum may lag or lead by the observations in flight.
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> duration_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

// One metric name: its kind, its help and one series per label set. Only
// touched under registry::mu_; series never move once added.
struct registry::family {
  struct series {
    labels l;    // as first registered; rendered in this order
    labels key;  // sorted, for lookup
    std::variant<std::unique_ptr<counter>, std::unique_ptr<gauge>, std::unique_ptr<histogram>,
                 std::function<double()>>
        metric;
  };

  std::string name;
  std::string help;
  kind k;
  std::deque<series> members;

  series* find(const labels& key) {
    for (auto& s : members) {
      if (s.key == key) return &s;
    }
    return nullptr;
  }

  // Returns the series for `l`, creating it with `make()` if it is new.
  template <class Make>
  series& get_or_add(labels l, Make make) {
    labels key = sorted(l);
    if (series* s = find(key)) return *s;
    for (std::size_t i = 0; i < key.size(); ++i) {
      if (!prometheus::CheckLabelName(key[i].first)) {
        misuse(name, "invalid label name '" + key[i].first + "'");
      }
      if (i > 0 && key[i - 1].first == key[i].first) {
        misuse(name, "label '" + key[i].first + "' given twice");
      }
    }
    return members.emplace_back(series{std::move(l), std::move(key), make()});
  }
};

registry::registry() = default;
registry::~registry() = default;

registry::family& registry::family_for(const std::string& name, const std::string& help, int k) {
  for (auto& f : families_) {
    if (f->name == name) {
      if (f->k != static_cast<kind>(k)) {
        misuse(name, std::string("registered as a ") + kind_name(f->k) + ", now as a " +
                         kind_name(static_cast<kind>(k)));
      }
      return *f;
    }
  }
  if (!prometheus::CheckMetricName(name)) misuse(name, "invalid metric name");
  auto f = std::make_unique<family>();
  f->name = name;
  f->help = help;
  f->k = static_cast<kind>(k);
  return *families_.emplace_back(std::move(f));
}

counter& registry::add_counter(const std::string& name, const std::string& help, labels l) {
  std::lock_guard lock(mu_);
  auto& s = family_for(name, help, static_cast<int>(kind::counter)).get_or_add(std::move(l), [] {
    return std::make_unique<counter>();
  });
  return *std::get<std::unique_ptr<counter>>(s.metric);
}

gauge& registry::add_gauge(const std::string& name, const std::string& help, labels l) {
  std::lock_guard lock(mu_);
  auto& s = family_for(name, help, static_cast<int>(kind::gauge)).get_or_add(std::move(l), [] {
    return std::make_unique<gauge>();
  });
  return *std::get<std::unique_ptr<gauge>>(s.metric);
}

histogram& registry::add_histogram(const std::string& name, const std::string& help, labels l,
                                   std::vector<double> bounds) {
  if (!std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
    misuse(name, "histogram bounds must be strictly ascending");
  }
  std::lock_guard lock(mu_);
  auto& s = family_for(name, help, static_cast<int>(kind::histogram)).get_or_add(std::move(l), [&] {
    return std::make_unique<histogram>(bounds);
  });
  auto& h = *std::get<std::unique_ptr<histogram>>(s.metric);
  if (h.read().bounds != bounds) misuse(name, "registered again with other bounds");
  return h;
}

void registry::add_callback_gauge(const std::string& name, const std::string& help, labels l,
                                  std::function<double()> read) {
  std::lock_guard lock(mu_);
  auto& s =
      family_for(name, help, static_cast<int>(kind::callback_gauge)).get_or_add(std::move(l), [] {
        return std::function<double()>();
      });
  s.metric = std::move(read);
}

void registry::add_callback_counter(const std::string& name, const std::string& help, labels l,
                                    std::function<double()> read) {
  std::lock_guard lock(mu_);
  auto& s =
      family_for(name, help, static_cast<int>(kind::callback_counter)).get_or_add(std::move(l), [] {
        return std::function<double()>();
      });
  s.metric = std::move(read);
}

namespace {

prometheus::MetricType to_type(kind k) {
  switch (k) {
    case kind::counter:
    case kind::callback_counter:
      return prometheus::MetricType::Counter;
    case kind::gauge:
    case kind::callback_gauge:
      return prometheus::MetricType::Gauge;
    case kind::histogram:
      return prometheus::MetricType::Histogram;
  }
  return prometheus::MetricType::Untyped;
}

}  // namespace

std::string registry::render() const {
  std::vector<prometheus::MetricFamily> out;
  {
    std::lock_guard lock(mu_);
    out.reserve(families_.size());
    for (const auto& f : families_) {
      prometheus::MetricFamily pf;
      pf.name = f->name;
      pf.help = f->help;
      pf.type = to_type(f->k);
      pf.metric.reserve(f->members.size());
      for (const auto& s : f->members) {
        prometheus::ClientMetric m;
        m.label.reserve(s.l.size());
        for (const auto& [k, v] : s.l) m.label.push_back({k, v});
        if (const auto* c = std::get_if<std::unique_ptr<counter>>(&s.metric)) {
          m.counter.value = static_cast<double>((*c)->value());
        } else if (const auto* g = std::get_if<std::unique_ptr<gauge>>(&s.metric)) {
          m.gauge.value = (*g)->value();
        } else if (const auto* h = std::get_if<std::unique_ptr<histogram>>(&s.metric)) {
          const auto snap = (*h)->read();
          m.histogram.sample_count = snap.count;
          m.histogram.sample_sum = snap.sum;
          m.histogram.bucket.reserve(snap.bounds.size());
          // The serializer appends the +Inf bucket itself from sample_count.
          for (std::size_t i = 0; i < snap.bounds.size(); ++i) {
            m.histogram.bucket.push_back({snap.cumulative[i], snap.bounds[i]});
          }
        } else {
          const auto& read = std::get<std::function<double()>>(s.metric);
          double v = 0;
          try {
            if (!read) continue;
            v = read();
          } catch (...) {
            continue;  // a failing callback loses its sample, not the scrape
          }
          if (f->k == kind::callback_counter) {
            m.counter.value = v;
          } else {
            m.gauge.value = v;
          }
        }
        pf.metric.push_back(std::move(m));
      }
      if (!pf.metric.empty()) out.push_back(std::move(pf));
    }
  }
  std::ostringstream os;
  prometheus::TextSerializer().Serialize(os, out);
  return std::move(os).str();
}

}  // namespace weir::metrics
