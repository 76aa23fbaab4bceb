#include "weir/ops/aggregate.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include "ops/sketch_codec.h"
#include "ops/sketch_ddsketch.h"
#include "ops/sketch_hll.h"
#include "ops/sketch_space_saving.h"
#include "weir/core/json.h"

namespace weir::ops {
namespace {

// The first byte of every encoded accumulator, so that state written by
// another aggregate (after the aggregate list was edited) is rejected.
enum class tag : std::uint8_t {
  count = 1,
  sum = 2,
  avg = 3,
  min = 4,
  max = 5,
  first = 6,
  last = 7,
  count_distinct = 8,
  percentile = 9,
  top_k = 10,
  collect = 11,
};

// Runs `body` on a reader over `in` after checking the tag; advances `in`
// only when everything decoded.
template <class Body>
bool decode_tagged(std::string_view& in, tag t, Body&& body) {
  codec::reader r(in);
  std::uint8_t got = 0;
  if (!r.u8(got) || got != static_cast<std::uint8_t>(t)) return false;
  if (!body(r)) return false;
  in = r.rest();
  return true;
}

// merge() takes an accumulator of the same aggregate: anything else is a
// programming error in the window that holds them.
template <class T>
const T& same_kind(const accumulator& other) {
  assert(dynamic_cast<const T*>(&other) != nullptr);
  return static_cast<const T&>(other);
}

void put_tag(std::string& out, tag t) {
  codec::put_u8(out, static_cast<std::uint8_t>(t));
}

// Reads a stored JSON value other than null (aggregates skip nulls).
bool read_json(codec::reader& r, core::value& v) {
  std::string_view text;
  if (!r.bytes(text)) return false;
  auto parsed = core::parse_json(text);
  if (!parsed || parsed->is_null()) return false;
  v = std::move(*parsed);
  return true;
}

// Canonical JSON text of `v` in a per-thread buffer: what count_distinct
// hashes and top_k counts, without allocating once the buffer has grown.
std::string_view canonical_text(const core::value& v) {
  thread_local std::string buffer;
  buffer.clear();
  core::write_json(v, buffer);
  return buffer;
}

// Numbers in results are finite: an overflow is reported as null.
core::value number_or_null(double d) {
  return std::isfinite(d) ? core::value{d} : core::value{};
}

// count() counts records; count(x) counts non-null values.
template <bool every_record>
class count_accumulator final : public accumulator {
 public:
  void add(const core::value& arg, core::millis) override {
    if (every_record || !arg.is_null()) ++n_;
  }
  void merge(const accumulator& other) override { n_ += same_kind<count_accumulator>(other).n_; }
  core::value result() const override { return core::value{static_cast<double>(n_)}; }
  void encode(std::string& out) const override {
    put_tag(out, tag::count);
    codec::put_varint(out, n_);
  }
  bool decode(std::string_view& in) override {
    return decode_tagged(in, tag::count, [&](codec::reader& r) {
      std::uint64_t n = 0;
      if (!r.varint(n)) return false;
      n_ = n;
      return true;
    });
  }

 private:
  std::uint64_t n_ = 0;
};

// A sum with Neumaier's compensation, so that long windows of fractional
// values do not drift.
struct compensated_sum {
  double sum = 0;
  double compensation = 0;

  void add(double x) noexcept {
    const double t = sum + x;
    compensation += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  double value() const noexcept { return sum + compensation; }
};

// sum(x) and avg(x): numbers only (check() rejects others), nulls skipped.
template <bool average>
class sum_accumulator final : public accumulator {
 public:
  void add(const core::value& arg, core::millis) override {
    if (!arg.is_number()) return;
    ++n_;
    sum_.add(arg.as_number());
  }
  void merge(const accumulator& other) override {
    const auto& o = same_kind<sum_accumulator>(other);
    n_ += o.n_;
    sum_.add(o.sum_.sum);
    sum_.add(o.sum_.compensation);
  }
  core::value result() const override {
    if (n_ == 0) return {};
    const double total = sum_.value();
    return number_or_null(average ? total / static_cast<double>(n_) : total);
  }
  void encode(std::string& out) const override {
    put_tag(out, average ? tag::avg : tag::sum);
    codec::put_varint(out, n_);
    if (n_ == 0) return;
    codec::put_f64(out, sum_.sum);
    codec::put_f64(out, sum_.compensation);
  }
  bool decode(std::string_view& in) override {
    return decode_tagged(in, average ? tag::avg : tag::sum, [&](codec::reader& r) {
      std::uint64_t n = 0;
      compensated_sum s;
      if (!r.varint(n)) return false;
      if (n > 0 && (!r.f64(s.sum) || !r.f64(s.compensation))) return false;
      n_ = n;
      sum_ = s;
      return true;
    });
  }

 private:
  std::uint64_t n_ = 0;
  compensated_sum sum_;
};

// min(x) and max(x) over numbers and strings: numbers sort before strings,
// strings compare bytewise. Invariant: num_ is meaningful only with has_num_,
// str_ only with has_str_.
template <bool maximum>
class extreme_accumulator final : public accumulator {
 public:
  void add(const core::value& arg, core::millis) override {
    if (arg.is_number()) {
      take_number(arg.as_number());
    } else if (arg.is_string()) {
      take_string(arg.as_string());
    }
  }
  void merge(const accumulator& other) override {
    const auto& o = same_kind<extreme_accumulator>(other);
    if (o.has_num_) take_number(o.num_);
    if (o.has_str_) take_string(o.str_);
  }
  core::value result() const override {
    if (maximum) {
      if (has_str_) return core::value{str_};
      if (has_num_) return core::value{num_};
    } else {
      if (has_num_) return core::value{num_};
      if (has_str_) return core::value{str_};
    }
    return {};
  }
  void encode(std::string& out) const override {
    put_tag(out, maximum ? tag::max : tag::min);
    codec::put_u8(out, static_cast<std::uint8_t>((has_num_ ? 1 : 0) | (has_str_ ? 2 : 0)));
    if (has_num_) codec::put_f64(out, num_);
    if (has_str_) codec::put_bytes(out, str_);
  }
  bool decode(std::string_view& in) override {
    return decode_tagged(in, maximum ? tag::max : tag::min, [&](codec::reader& r) {
      std::uint8_t flags = 0;
      double num = 0;
      std::string_view str;
      if (!r.u8(flags) || flags > 3) return false;
      if ((flags & 1) && (!r.f64(num) || std::isnan(num))) return false;
      if ((flags & 2) && !r.bytes(str)) return false;
      has_num_ = flags & 1;
      has_str_ = flags & 2;
      num_ = num;
      str_.assign(str);
      return true;
    });
  }

 private:
  void take_number(double x) {
    if (!has_num_ || (maximum ? x > num_ : x < num_)) num_ = x;
    has_num_ = true;
  }
  void take_string(const std::string& s) {
    if (!has_str_ || (maximum ? s > str_ : s < str_)) str_ = s;
    has_str_ = true;
  }

  double num_ = 0;
  std::string str_;
  bool has_num_ = false;
  bool has_str_ = false;
};

// first(x) and last(x) by event time. Equal times: first keeps the earliest
// arrival, last takes the latest; merge(other) treats other's records as
// arriving after this one's.
template <bool latest>
class edge_accumulator final : public accumulator {
 public:
  void add(const core::value& arg, core::millis time) override {
    if (arg.is_null()) return;
    if (replaces(time)) {
      value_ = arg;
      time_ = time;
    }
  }
  void merge(const accumulator& other) override {
    const auto& o = same_kind<edge_accumulator>(other);
    if (o.value_.is_null() || !replaces(o.time_)) return;
    value_ = o.value_;
    time_ = o.time_;
  }
  core::value result() const override { return value_; }
  void encode(std::string& out) const override {
    put_tag(out, latest ? tag::last : tag::first);
    codec::put_u8(out, value_.is_null() ? 0 : 1);
    if (value_.is_null()) return;
    codec::put_svarint(out, time_);
    codec::put_bytes(out, core::to_json(value_));
  }
  bool decode(std::string_view& in) override {
    return decode_tagged(in, latest ? tag::last : tag::first, [&](codec::reader& r) {
      std::uint8_t present = 0;
      if (!r.u8(present) || present > 1) return false;
      core::value v;
      std::int64_t t = 0;
      if (present && (!r.svarint(t) || !read_json(r, v))) return false;
      value_ = std::move(v);
      time_ = t;
      return true;
    });
  }

 private:
  bool replaces(core::millis time) const noexcept {
    if (value_.is_null()) return true;
    return latest ? time >= time_ : time < time_;
  }

  core::value value_;  //!< null while nothing was added
  core::millis time_ = 0;
};

// count_distinct(x): distinct canonical JSON texts, through their hashes.
class distinct_accumulator final : public accumulator {
 public:
  void add(const core::value& arg, core::millis) override {
    if (arg.is_null()) return;
    sketch_.add(hash_bytes(canonical_text(arg)));
  }
  void merge(const accumulator& other) override {
    sketch_.merge(same_kind<distinct_accumulator>(other).sketch_);
  }
  core::value result() const override { return core::value{std::round(sketch_.estimate())}; }
  void encode(std::string& out) const override {
    put_tag(out, tag::count_distinct);
    sketch_.encode(out);
  }
  bool decode(std::string_view& in) override {
    return decode_tagged(in, tag::count_distinct,
                         [&](codec::reader& r) { return sketch_.decode(r); });
  }

 private:
  hyperloglog sketch_;
};

// percentile(x, q): a DDSketch of the numbers; null while empty.
class percentile_accumulator final : public accumulator {
 public:
  explicit percentile_accumulator(double q) : q_(q) {}
  void add(const core::value& arg, core::millis) override {
    if (arg.is_number()) sketch_.add(arg.as_number());
  }
  void merge(const accumulator& other) override {
    sketch_.merge(same_kind<percentile_accumulator>(other).sketch_);
  }
  core::value result() const override {
    auto v = sketch_.quantile(q_);
    return v ? core::value{*v} : core::value{};
  }
  void encode(std::string& out) const override {
    put_tag(out, tag::percentile);
    sketch_.encode(out);
  }
  bool decode(std::string_view& in) override {
    return decode_tagged(in, tag::percentile, [&](codec::reader& r) { return sketch_.decode(r); });
  }

 private:
  double q_;
  ddsketch sketch_;
};

// top_k(x, k): the k most frequent values with their counts.
class top_k_accumulator final : public accumulator {
 public:
  top_k_accumulator(std::size_t k, std::size_t capacity) : k_(k), counts_(capacity) {}
  void add(const core::value& arg, core::millis) override {
    if (arg.is_null()) return;
    counts_.add(canonical_text(arg));
  }
  void merge(const accumulator& other) override {
    counts_.merge(same_kind<top_k_accumulator>(other).counts_);
  }
  core::value result() const override {
    core::value::array_type out;
    for (const auto& item : counts_.top(k_)) {
      auto v = core::parse_json(item.key);  // written by canonical_text; checked by decode
      core::value::object_type entry;
      entry.push_back({"value", v ? std::move(*v) : core::value{}});
      entry.push_back({"count", core::value{static_cast<double>(item.count)}});
      out.emplace_back(std::move(entry));
    }
    return core::value{std::move(out)};
  }
  void encode(std::string& out) const override {
    put_tag(out, tag::top_k);
    counts_.encode(out);
  }
  bool decode(std::string_view& in) override {
    return decode_tagged(in, tag::top_k, [&](codec::reader& r) {
      space_saving loaded(counts_.capacity());
      if (!loaded.decode(r)) return false;
      for (const auto& item : loaded.top(loaded.size())) {
        auto v = core::parse_json(item.key);
        if (!v || v->is_null()) return false;
      }
      counts_ = std::move(loaded);
      return true;
    });
  }

 private:
  std::size_t k_;
  space_saving counts_;
};

// collect(x, limit): the earliest `limit` values by event time, ties in
// arrival order; merge(other) treats other's records as arriving after this
// one's. Invariant: entries_ sorted by time, stable, at most limit_ long.
class collect_accumulator final : public accumulator {
 public:
  explicit collect_accumulator(std::size_t limit) : limit_(limit) {}
  void add(const core::value& arg, core::millis time) override {
    if (arg.is_null()) return;
    if (entries_.size() == limit_ && time >= entries_.back().time) return;
    auto at = std::upper_bound(entries_.begin(), entries_.end(), time,
                               [](core::millis t, const entry& e) { return t < e.time; });
    entries_.insert(at, entry{time, arg});
    if (entries_.size() > limit_) entries_.pop_back();
  }
  void merge(const accumulator& other) override {
    const auto& o = same_kind<collect_accumulator>(other);
    if (o.entries_.empty()) return;
    const bool self = &o == this;  // then nothing may be moved from entries_
    std::vector<entry> both;
    both.reserve(std::min(limit_, entries_.size() + o.entries_.size()));
    auto a = entries_.begin();
    auto b = o.entries_.begin();
    while (both.size() < limit_ && (a != entries_.end() || b != o.entries_.end())) {
      if (b == o.entries_.end() || (a != entries_.end() && a->time <= b->time)) {
        both.push_back(self ? *a++ : std::move(*a++));
      } else {
        both.push_back(*b++);
      }
    }
    entries_ = std::move(both);
  }
  core::value result() const override {
    core::value::array_type out;
    out.reserve(entries_.size());
    for (const auto& e : entries_) out.push_back(e.value);
    return core::value{std::move(out)};
  }
  void encode(std::string& out) const override {
    put_tag(out, tag::collect);
    codec::put_varint(out, entries_.size());
    std::string text;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      // The first time in full, then the (never negative) step from the last.
      const auto& e = entries_[i];
      if (i == 0) {
        codec::put_svarint(out, e.time);
      } else {
        codec::put_varint(out, static_cast<std::uint64_t>(e.time) -
                                   static_cast<std::uint64_t>(entries_[i - 1].time));
      }
      text.clear();
      core::write_json(e.value, text);
      codec::put_bytes(out, text);
    }
  }
  bool decode(std::string_view& in) override {
    return decode_tagged(in, tag::collect, [&](codec::reader& r) {
      std::uint64_t n = 0;
      if (!r.varint(n) || n > limit_) return false;
      std::vector<entry> loaded;
      loaded.reserve(static_cast<std::size_t>(n));
      core::millis time = 0;
      for (std::uint64_t i = 0; i < n; ++i) {
        entry e;
        if (i == 0) {
          if (!r.svarint(time)) return false;
        } else {
          std::uint64_t step = 0;
          const std::uint64_t room =
              static_cast<std::uint64_t>(core::max_time) - static_cast<std::uint64_t>(time);
          if (!r.varint(step) || step > room) return false;
          time = static_cast<core::millis>(static_cast<std::uint64_t>(time) + step);
        }
        e.time = time;
        if (!read_json(r, e.value)) return false;
        loaded.push_back(std::move(e));
      }
      entries_ = std::move(loaded);
      return true;
    });
  }

 private:
  struct entry {
    core::millis time = 0;
    core::value value;
  };
  std::size_t limit_;
  std::vector<entry> entries_;
};

// Which argument types an aggregate takes; checked statically at load and
// per record by check().
enum class accepts : std::uint8_t { anything, numbers, numbers_or_strings };

// A function the `aggregate:` map accepts: its arity, argument types and how
// its accumulators are made (`literal` is the second argument of percentile,
// top_k and collect).
struct function_spec {
  std::string_view name;
  std::size_t min_args;
  std::size_t max_args;
  const char* arity;  //!< how the arity is described in messages
  accepts types;
  std::unique_ptr<accumulator> (*make)(bool has_argument, double literal);
};

constexpr std::size_t max_top_k = 1000;
constexpr std::size_t max_collect = 10000;

// Space-Saving capacity of top_k(x, k): counts stay exact up to this many
// distinct values.
std::size_t top_k_capacity(std::size_t k) {
  return std::max<std::size_t>(100, 10 * k);
}

// Every aggregate, in the order messages list them.
constexpr function_spec functions[] = {
    {"count", 0, 1, "takes no argument or one", accepts::anything,
     [](bool has_argument, double) -> std::unique_ptr<accumulator> {
       if (has_argument) return std::make_unique<count_accumulator<false>>();
       return std::make_unique<count_accumulator<true>>();
     }},
    {"sum", 1, 1, "takes one argument", accepts::numbers,
     [](bool, double) -> std::unique_ptr<accumulator> {
       return std::make_unique<sum_accumulator<false>>();
     }},
    {"avg", 1, 1, "takes one argument", accepts::numbers,
     [](bool, double) -> std::unique_ptr<accumulator> {
       return std::make_unique<sum_accumulator<true>>();
     }},
    {"min", 1, 1, "takes one argument", accepts::numbers_or_strings,
     [](bool, double) -> std::unique_ptr<accumulator> {
       return std::make_unique<extreme_accumulator<false>>();
     }},
    {"max", 1, 1, "takes one argument", accepts::numbers_or_strings,
     [](bool, double) -> std::unique_ptr<accumulator> {
       return std::make_unique<extreme_accumulator<true>>();
     }},
    {"first", 1, 1, "takes one argument", accepts::anything,
     [](bool, double) -> std::unique_ptr<accumulator> {
       return std::make_unique<edge_accumulator<false>>();
     }},
    {"last", 1, 1, "takes one argument", accepts::anything,
     [](bool, double) -> std::unique_ptr<accumulator> {
       return std::make_unique<edge_accumulator<true>>();
     }},
    {"count_distinct", 1, 1, "takes one argument", accepts::anything,
     [](bool, double) -> std::unique_ptr<accumulator> {
       return std::make_unique<distinct_accumulator>();
     }},
    {"percentile", 2, 2, "takes two arguments: percentile(expr, q)", accepts::numbers,
     [](bool, double q) -> std::unique_ptr<accumulator> {
       return std::make_unique<percentile_accumulator>(q);
     }},
    {"top_k", 2, 2, "takes two arguments: top_k(expr, k)", accepts::anything,
     [](bool, double k) -> std::unique_ptr<accumulator> {
       const auto n = static_cast<std::size_t>(k);
       return std::make_unique<top_k_accumulator>(n, top_k_capacity(n));
     }},
    {"collect", 2, 2, "takes two arguments: collect(expr, limit)", accepts::anything,
     [](bool, double limit) -> std::unique_ptr<accumulator> {
       return std::make_unique<collect_accumulator>(static_cast<std::size_t>(limit));
     }},
};

// One parsed entry: the function, a display form of the call for messages
// and the literal second argument. Immutable after load.
class aggregate_def final : public aggregate {
 public:
  aggregate_def(std::string name, std::optional<expr::expression> argument, const function_spec& fn,
                std::string display, double literal)
      : aggregate(std::move(name), std::move(argument)),
        fn_(fn),
        display_(std::move(display)),
        literal_(literal) {}

  core::status check(const core::value& arg) const override {
    switch (fn_.types) {
      case accepts::anything:
        return {};
      case accepts::numbers:
        if (arg.is_null() || arg.is_number()) return {};
        return core::error{core::errc::type_error,
                           display_ + " needs a number, found " + core::kind_name(arg.type())};
      case accepts::numbers_or_strings:
        if (arg.is_null() || arg.is_number() || arg.is_string()) return {};
        return core::error{
            core::errc::type_error,
            display_ + " needs a number or a string, found " + core::kind_name(arg.type())};
    }
    return {};
  }

  std::unique_ptr<accumulator> create() const override {
    return fn_.make(argument().has_value(), literal_);
  }

 private:
  const function_spec& fn_;
  std::string display_;  //!< the call, normalised: "sum(amount)"
  double literal_;
};

std::string known_functions() {
  std::string out;
  for (const auto& f : functions) {
    if (!out.empty()) out += ", ";
    out += f.name;
  }
  return out;
}

// The number written as argument text, when it is a plain number literal.
std::optional<double> number_literal(const expr::expression& e) {
  auto v = core::parse_json(e.source());
  if (!v || !v->is_number()) return std::nullopt;
  return v->as_number();
}

}  // namespace

std::unique_ptr<aggregate> parse_aggregate(const config::node::entry& entry,
                                           config::diagnostics& diag) {
  const config::node& n = entry.val;
  const std::string& field = entry.key.scalar;
  auto fail = [&](config::mark at, const std::string& message) -> std::unique_ptr<aggregate> {
    diag.error(at, "aggregate '" + field + "': " + message);
    return nullptr;
  };
  if (!n.is_scalar() || n.scalar.empty()) {
    diag.error(n.at, "aggregate '" + field + "' must be a call such as count() or sum(x)");
    return nullptr;
  }
  auto parsed = expr::compile_call(n.scalar);
  if (auto* err = std::get_if<expr::syntax_error>(&parsed)) {
    return fail(n.mark_at(err->offset), err->message);
  }
  auto& c = std::get<expr::call>(parsed);
  const config::mark name_at = n.mark_at(n.scalar.find_first_not_of(" \t"));

  const function_spec* spec = nullptr;
  for (const auto& f : functions) {
    if (f.name == c.name) spec = &f;
  }
  if (!spec) {
    return fail(name_at, "unknown aggregate '" + c.name + "' (known: " + known_functions() + ")");
  }
  if (c.args.size() < spec->min_args || c.args.size() > spec->max_args) {
    const config::mark at =
        c.args.size() > spec->max_args ? n.mark_at(c.arg_offsets[spec->max_args]) : name_at;
    return fail(at, c.name + "() " + spec->arity);
  }

  if (!c.args.empty()) {
    const expr::type t = c.args[0].static_type();
    const bool number_ok = t == expr::type::any || t == expr::type::number || t == expr::type::null;
    if (spec->types == accepts::numbers && !number_ok) {
      return fail(n.mark_at(c.arg_offsets[0]), c.name + "() needs a number");
    }
    if (spec->types == accepts::numbers_or_strings && !number_ok && t != expr::type::string) {
      return fail(n.mark_at(c.arg_offsets[0]), c.name + "() needs a number or a string");
    }
  }

  // The literal second argument of percentile, top_k and collect.
  double literal = 0;
  if (c.args.size() == 2) {
    const config::mark at = n.mark_at(c.arg_offsets[1]);
    auto v = number_literal(c.args[1]);
    if (c.name == "percentile") {
      if (!v) {
        return fail(at, "percentile() takes q as a number literal such as 0.95, found '" +
                            c.args[1].source() + "'");
      }
      if (!(*v >= 0 && *v <= 1)) {
        return fail(at, "percentile() q must be between 0 and 1, found " + c.args[1].source());
      }
    } else {
      const bool is_top_k = c.name == "top_k";
      const double most = static_cast<double>(is_top_k ? max_top_k : max_collect);
      if (!v || *v != std::floor(*v) || *v < 1 || *v > most) {
        return fail(at, c.name + "() takes " + (is_top_k ? "k" : "limit") +
                            " as an integer literal from 1 to " +
                            std::to_string(static_cast<std::size_t>(most)) + ", found '" +
                            c.args[1].source() + "'");
      }
    }
    literal = *v;
  }

  std::string display = c.name + "(";
  for (std::size_t i = 0; i < c.args.size(); ++i) {
    if (i) display += ", ";
    display += c.args[i].source();
  }
  display += ")";

  std::optional<expr::expression> argument;
  if (!c.args.empty()) argument = std::move(c.args[0]);
  return std::make_unique<aggregate_def>(field, std::move(argument), *spec, std::move(display),
                                         literal);
}

}  // namespace weir::ops
