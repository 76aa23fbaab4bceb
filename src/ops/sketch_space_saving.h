#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ops/sketch_codec.h"

namespace weir::ops {

// Counts of the most frequent keys (Space-Saving, Metwally et al. 2005, with
// the merge of Cafaro et al. 2016). Counts are exact while no more than
// `capacity` distinct keys have been seen; after that the least counted key
// (ties: the greatest key) is replaced by a new one, which inherits its count
// as `error`. Then every count overestimates the true one by at most its
// error, every error is at most N / capacity (N = keys added), and every key
// counted more than N / capacity times is present. Owned by one accumulator;
// not thread-safe. Invariant: exact() or size() == capacity.
class space_saving {
 public:
  struct item {
    std::string_view key;
    std::uint64_t count = 0;
    std::uint64_t error = 0;  //!< how much `count` may exceed the true count
  };

  explicit space_saving(std::size_t capacity) : capacity_(capacity) {}
  space_saving(const space_saving& other);
  space_saving& operator=(const space_saving& other);
  space_saving(space_saving&&) noexcept = default;
  space_saving& operator=(space_saving&&) noexcept = default;

  void add(std::string_view key);
  void merge(const space_saving& other);
  // Up to `k` items by count descending, ties by key ascending (bytewise).
  std::vector<item> top(std::size_t k) const;
  bool exact() const noexcept { return exact_; }
  std::size_t size() const noexcept { return counters_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }

  void encode(std::string& out) const;
  // Reads what encode wrote for the same capacity; keys are not interpreted.
  bool decode(codec::reader& in);

 private:
  struct key_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  using index_map = std::unordered_map<std::string, std::uint32_t, key_hash, std::equal_to<>>;
  struct counter {
    const std::string* key;  //!< the key of this counter's node in index_
    std::uint64_t count;
    std::uint64_t error;
    std::uint32_t heap_pos;
  };

  void insert(std::string key, std::uint64_t count, std::uint64_t error);
  // Whether `a` is evicted before `b`: lower count first, then greater key.
  bool evicts_before(std::uint32_t a, std::uint32_t b) const noexcept;
  void build_heap();
  void sift_down(std::uint32_t pos);
  std::uint64_t min_count() const;
  void assign_from(const space_saving& other);

  std::size_t capacity_;
  bool exact_ = true;
  index_map index_;                  //!< key -> position in counters_
  std::vector<counter> counters_;    //!< at most capacity_
  std::vector<std::uint32_t> heap_;  //!< min-heap of counters_ by evicts_before; empty until needed
};

}  // namespace weir::ops
