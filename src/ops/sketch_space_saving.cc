#include "ops/sketch_space_saving.h"

#include <algorithm>
#include <limits>

namespace weir::ops {

space_saving::space_saving(const space_saving& other) : capacity_(other.capacity_) {
  assign_from(other);
}

space_saving& space_saving::operator=(const space_saving& other) {
  if (this != &other) {
    capacity_ = other.capacity_;
    assign_from(other);
  }
  return *this;
}

void space_saving::assign_from(const space_saving& other) {
  exact_ = other.exact_;
  index_.clear();
  counters_.clear();
  heap_.clear();
  for (const auto& c : other.counters_) insert(*c.key, c.count, c.error);
}

void space_saving::insert(std::string key, std::uint64_t count, std::uint64_t error) {
  const auto pos = static_cast<std::uint32_t>(counters_.size());
  auto [it, inserted] = index_.emplace(std::move(key), pos);
  if (!inserted) return;
  counters_.push_back(counter{&it->first, count, error, 0});
}

bool space_saving::evicts_before(std::uint32_t a, std::uint32_t b) const noexcept {
  const counter& x = counters_[a];
  const counter& y = counters_[b];
  if (x.count != y.count) return x.count < y.count;
  return *x.key > *y.key;
}

void space_saving::build_heap() {
  heap_.resize(counters_.size());
  for (std::uint32_t i = 0; i < heap_.size(); ++i) heap_[i] = i;
  for (auto i = static_cast<std::uint32_t>(heap_.size() / 2); i-- > 0;) sift_down(i);
  // sift_down keeps heap_pos current only for what it moves.
  for (std::uint32_t i = 0; i < heap_.size(); ++i) counters_[heap_[i]].heap_pos = i;
}

void space_saving::sift_down(std::uint32_t pos) {
  const auto n = static_cast<std::uint32_t>(heap_.size());
  const std::uint32_t moving = heap_[pos];
  for (;;) {
    std::uint32_t child = 2 * pos + 1;
    if (child >= n) break;
    if (child + 1 < n && evicts_before(heap_[child + 1], heap_[child])) ++child;
    if (!evicts_before(heap_[child], moving)) break;
    heap_[pos] = heap_[child];
    counters_[heap_[pos]].heap_pos = pos;
    pos = child;
  }
  heap_[pos] = moving;
  counters_[moving].heap_pos = pos;
}

void space_saving::add(std::string_view key) {
  if (auto it = index_.find(key); it != index_.end()) {
    counter& c = counters_[it->second];
    ++c.count;
    if (!heap_.empty()) sift_down(c.heap_pos);
    return;
  }
  if (counters_.size() < capacity_) {
    insert(std::string(key), 1, 0);
    return;
  }
  if (capacity_ == 0) return;
  exact_ = false;
  if (heap_.empty()) build_heap();
  const std::uint32_t victim = heap_[0];
  counter& c = counters_[victim];
  // Reuse the victim's node: its key's address, which the counter holds, stays.
  auto node = index_.extract(*c.key);
  node.key().assign(key);
  index_.insert(std::move(node));
  c.error = c.count;
  ++c.count;
  sift_down(0);
}

std::uint64_t space_saving::min_count() const {
  std::uint64_t m = std::numeric_limits<std::uint64_t>::max();
  for (const auto& c : counters_) m = std::min(m, c.count);
  return counters_.empty() ? 0 : m;
}

void space_saving::merge(const space_saving& other) {
  // A key missing from an inexact summary may have been counted up to that
  // summary's least count: add it, so that counts stay overestimates.
  const std::uint64_t mine_missing = exact_ ? 0 : min_count();
  const std::uint64_t theirs_missing = other.exact_ ? 0 : other.min_count();
  struct entry {
    std::string key;
    std::uint64_t count;
    std::uint64_t error;
  };
  std::vector<entry> all;
  all.reserve(counters_.size() + other.counters_.size());
  for (const auto& c : counters_) {
    auto it = other.index_.find(*c.key);
    if (it != other.index_.end()) {
      const counter& o = other.counters_[it->second];
      all.push_back({*c.key, c.count + o.count, c.error + o.error});
    } else {
      all.push_back({*c.key, c.count + theirs_missing, c.error + theirs_missing});
    }
  }
  for (const auto& o : other.counters_) {
    if (index_.find(*o.key) != index_.end()) continue;
    all.push_back({*o.key, o.count + mine_missing, o.error + mine_missing});
  }
  bool exact = exact_ && other.exact_;
  if (all.size() > capacity_) {
    std::sort(all.begin(), all.end(), [](const entry& a, const entry& b) {
      return a.count != b.count ? a.count > b.count : a.key < b.key;
    });
    all.resize(capacity_);
    exact = false;
  }
  index_.clear();
  counters_.clear();
  heap_.clear();
  exact_ = exact;
  for (auto& e : all) insert(std::move(e.key), e.count, e.error);
}

std::vector<space_saving::item> space_saving::top(std::size_t k) const {
  std::vector<item> items;
  items.reserve(counters_.size());
  for (const auto& c : counters_) items.push_back({*c.key, c.count, c.error});
  auto order = [](const item& a, const item& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  };
  k = std::min(k, items.size());
  std::partial_sort(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(k), items.end(),
                    order);
  items.resize(k);
  return items;
}

void space_saving::encode(std::string& out) const {
  codec::put_u8(out, exact_ ? 1 : 0);
  codec::put_varint(out, counters_.size());
  for (const auto& c : counters_) {
    codec::put_varint(out, c.count);
    codec::put_varint(out, c.error);
    codec::put_bytes(out, *c.key);
  }
}

bool space_saving::decode(codec::reader& in) {
  std::uint8_t exact = 0;
  std::uint64_t n = 0;
  if (!in.u8(exact) || exact > 1 || !in.varint(n) || n > capacity_) return false;
  if (!exact && n != capacity_) return false;
  space_saving loaded(capacity_);
  loaded.exact_ = exact == 1;
  loaded.counters_.reserve(static_cast<std::size_t>(n));
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t count = 0;
    std::uint64_t error = 0;
    std::string_view key;
    if (!in.varint(count) || !in.varint(error) || !in.bytes(key)) return false;
    if (count == 0 || error >= count || (exact && error != 0)) return false;
    const std::size_t before = loaded.counters_.size();
    loaded.insert(std::string(key), count, error);
    if (loaded.counters_.size() == before) return false;  // a duplicate key
  }
  *this = std::move(loaded);
  return true;
}

}  // namespace weir::ops
