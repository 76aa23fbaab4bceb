#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ops/sketch_codec.h"

namespace weir::ops {

// 64-bit hash of a byte string: xxHash64's single-lane mixing and avalanche
// finaliser. Persisted through count_distinct state, so it must never change.
std::uint64_t hash_bytes(std::string_view bytes) noexcept;

// Distinct count of 64-bit hashes. Exact (a sorted set of the hashes) up to
// `sparse_limit` of them; beyond that a HyperLogLog of 2^14 six-bit registers
// (standard error 1.04/sqrt(2^14), about 0.81%). The state depends only on the
// set of hashes added, never on their order or on how they were merged.
// Owned by one accumulator; not thread-safe.
class hyperloglog {
 public:
  static constexpr int precision = 14;
  static constexpr std::size_t register_count = std::size_t{1} << precision;
  static constexpr std::uint8_t max_rank = 64 - precision + 1;
  static constexpr std::size_t dense_bytes = register_count * 6 / 8;
  static constexpr std::size_t sparse_limit = 512;

  void add(std::uint64_t hash);
  void merge(const hyperloglog& other);
  // The distinct count: exact in sparse mode; in dense mode the HyperLogLog
  // estimate (Ertl's improved estimator, unbiased from small to large ranges).
  double estimate() const;
  bool exact() const noexcept { return dense_.empty(); }

  void encode(std::string& out) const;
  bool decode(codec::reader& in);

 private:
  void to_dense();
  void raise(std::uint64_t hash);
  std::uint8_t get(std::size_t i) const noexcept;
  void set(std::size_t i, std::uint8_t rank) noexcept;

  std::vector<std::uint64_t> sparse_;  //!< sorted, distinct; used while dense_ is empty
  std::vector<std::uint8_t> dense_;    //!< packed registers plus one padding byte, or empty
};

}  // namespace weir::ops
