#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ops/sketch_codec.h"

namespace weir::ops {

// Quantiles of a stream of numbers with 1% relative accuracy (DDSketch,
// Masson et al., VLDB 2019): |x| falls into bin ceil(log_gamma |x|), gamma =
// (1 + a) / (1 - a), with a store per sign and a count of zeros. Each store
// keeps at most `max_bins` contiguous bins; beyond that the bins of smallest
// magnitude collapse into one (only quantiles that land there lose accuracy).
// The exact minimum and maximum are kept too. Owned by one accumulator; not
// thread-safe. Invariant: count() == 0 exactly when min_ > max_.
class ddsketch {
 public:
  static constexpr double relative_accuracy = 0.01;
  static constexpr std::size_t max_bins = 2048;

  void add(double x);
  void merge(const ddsketch& other);
  // An estimate of the value of 0-based rank floor(q * (count() - 1)) in
  // sorted order, within relative_accuracy of it (exact for q = 0 and q = 1);
  // nullopt when empty. Precondition: 0 <= q <= 1.
  std::optional<double> quantile(double q) const;
  std::uint64_t count() const noexcept { return negative_.total() + zero_ + positive_.total(); }

  void encode(std::string& out) const;
  bool decode(codec::reader& in);

 private:
  // Counts of contiguous bins [offset_, offset_ + counts_.size()); may carry
  // zero bins at either end as room to grow.
  class bin_store {
   public:
    void add(std::int32_t index, std::uint64_t n);
    void merge(const bin_store& other);
    std::uint64_t total() const noexcept { return total_; }
    std::int32_t offset() const noexcept { return offset_; }
    const std::vector<std::uint64_t>& counts() const noexcept { return counts_; }
    void encode(std::string& out) const;
    bool decode(codec::reader& in);

   private:
    void reframe(std::int64_t lo, std::int64_t hi);

    std::int32_t offset_ = 0;
    std::vector<std::uint64_t> counts_;
    std::uint64_t total_ = 0;
  };

  bin_store positive_;
  bin_store negative_;  //!< by magnitude: bin i holds -x for x in (gamma^(i-1), gamma^i]
  std::uint64_t zero_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
};

}  // namespace weir::ops
