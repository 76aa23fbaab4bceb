#include "ops/sketch_ddsketch.h"

#include <algorithm>
#include <cmath>

namespace weir::ops {
namespace {

constexpr double bin_gamma = (1 + ddsketch::relative_accuracy) / (1 - ddsketch::relative_accuracy);
const double log_gamma = std::log(bin_gamma);

// Bin indexes of finite non-zero doubles lie within about +-37300; anything
// outside this bound in stored state is corrupt.
constexpr std::int64_t index_bound = 40000;
// Zero bins added beside a growing range, so that slowly drifting values do
// not reallocate the store on every new bin.
constexpr std::int64_t growth_room = 16;

std::int32_t index_of(double magnitude) {
  return static_cast<std::int32_t>(std::ceil(std::log(magnitude) / log_gamma));
}

// The value that represents bin `index`: within relative_accuracy of every
// value in (gamma^(index-1), gamma^index].
double value_of(std::int64_t index) {
  return 2 * std::exp(static_cast<double>(index) * log_gamma) / (1 + bin_gamma);
}

}  // namespace

void ddsketch::bin_store::reframe(std::int64_t lo, std::int64_t hi) {
  std::vector<std::uint64_t> next(static_cast<std::size_t>(hi - lo + 1), 0);
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    const std::int64_t index = std::max<std::int64_t>(offset_ + static_cast<std::int64_t>(i), lo);
    next[static_cast<std::size_t>(index - lo)] += counts_[i];
  }
  counts_ = std::move(next);
  offset_ = static_cast<std::int32_t>(lo);
}

void ddsketch::bin_store::add(std::int32_t index, std::uint64_t n) {
  if (counts_.empty()) {
    offset_ = index;
    counts_.assign(1, 0);
  }
  const std::int64_t lo = offset_;
  const std::int64_t hi = lo + static_cast<std::int64_t>(counts_.size()) - 1;
  if (index < lo || index > hi) {
    std::int64_t new_lo = std::min<std::int64_t>(lo, index);
    std::int64_t new_hi = std::max<std::int64_t>(hi, index);
    const auto limit = static_cast<std::int64_t>(max_bins);
    if (new_hi - new_lo + 1 > limit) {
      new_lo = new_hi - limit + 1;  // collapse the lowest bins
    } else {
      const std::int64_t room = std::min(growth_room, limit - (new_hi - new_lo + 1));
      if (index > hi) new_hi += room;
      if (index < lo) new_lo -= room;
    }
    reframe(new_lo, new_hi);
  }
  const std::int64_t at = std::max<std::int64_t>(index, offset_) - offset_;
  counts_[static_cast<std::size_t>(at)] += n;
  total_ += n;
}

void ddsketch::bin_store::merge(const bin_store& other) {
  for (std::size_t i = 0; i < other.counts_.size(); ++i) {
    if (other.counts_[i] != 0) {
      add(other.offset_ + static_cast<std::int32_t>(i), other.counts_[i]);
    }
  }
}

void ddsketch::bin_store::encode(std::string& out) const {
  std::size_t first = 0;
  std::size_t last = counts_.size();
  while (first < last && counts_[first] == 0) ++first;
  while (last > first && counts_[last - 1] == 0) --last;
  codec::put_varint(out, last - first);
  if (first == last) return;
  codec::put_svarint(out, offset_ + static_cast<std::int64_t>(first));
  for (std::size_t i = first; i < last; ++i) codec::put_varint(out, counts_[i]);
}

bool ddsketch::bin_store::decode(codec::reader& in) {
  std::uint64_t n = 0;
  if (!in.varint(n) || n > max_bins) return false;
  bin_store loaded;
  if (n > 0) {
    std::int64_t offset = 0;
    if (!in.svarint(offset) || offset < -index_bound ||
        offset + static_cast<std::int64_t>(n) - 1 > index_bound) {
      return false;
    }
    loaded.offset_ = static_cast<std::int32_t>(offset);
    loaded.counts_.resize(static_cast<std::size_t>(n));
    for (auto& c : loaded.counts_) {
      if (!in.varint(c) || c > ~loaded.total_) return false;
      loaded.total_ += c;
    }
  }
  *this = std::move(loaded);
  return true;
}

void ddsketch::add(double x) {
  if (x > 0) {
    positive_.add(index_of(x), 1);
  } else if (x < 0) {
    negative_.add(index_of(-x), 1);
  } else {
    ++zero_;
  }
  min_ = std::min(min_, x);
  max_ = std::max(max_, x);
}

void ddsketch::merge(const ddsketch& other) {
  positive_.merge(other.positive_);
  negative_.merge(other.negative_);
  zero_ += other.zero_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::optional<double> ddsketch::quantile(double q) const {
  const std::uint64_t n = count();
  if (n == 0) return std::nullopt;
  if (q <= 0) return min_;
  if (q >= 1) return max_;
  const double rank = q * static_cast<double>(n - 1);
  auto clamp = [&](double v) { return std::clamp(v, min_, max_); };
  double seen = 0;
  const auto& neg = negative_.counts();
  for (std::size_t i = neg.size(); i-- > 0;) {
    seen += static_cast<double>(neg[i]);
    if (seen > rank) return clamp(-value_of(negative_.offset() + static_cast<std::int64_t>(i)));
  }
  seen += static_cast<double>(zero_);
  if (seen > rank) return clamp(0.0);
  const auto& pos = positive_.counts();
  for (std::size_t i = 0; i < pos.size(); ++i) {
    seen += static_cast<double>(pos[i]);
    if (seen > rank) return clamp(value_of(positive_.offset() + static_cast<std::int64_t>(i)));
  }
  return max_;
}

void ddsketch::encode(std::string& out) const {
  codec::put_varint(out, zero_);
  positive_.encode(out);
  negative_.encode(out);
  if (count() == 0) return;
  codec::put_f64(out, min_);
  codec::put_f64(out, max_);
}

bool ddsketch::decode(codec::reader& in) {
  ddsketch loaded;
  if (!in.varint(loaded.zero_) || !loaded.positive_.decode(in) || !loaded.negative_.decode(in)) {
    return false;
  }
  const std::uint64_t pos = loaded.positive_.total();
  const std::uint64_t neg = loaded.negative_.total();
  if (pos > ~neg || loaded.zero_ > ~(pos + neg)) return false;
  if (loaded.count() > 0) {
    if (!in.f64(loaded.min_) || !in.f64(loaded.max_)) return false;
    if (!std::isfinite(loaded.min_) || !std::isfinite(loaded.max_) || loaded.min_ > loaded.max_) {
      return false;
    }
    // The extremes must agree with the signs present.
    if ((neg > 0) != (loaded.min_ < 0) || (pos > 0) != (loaded.max_ > 0)) return false;
  }
  *this = std::move(loaded);
  return true;
}

}  // namespace weir::ops
