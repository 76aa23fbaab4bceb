#pragma once

#include <algorithm>
#include <memory>
#include <vector>

#include "weir/core/time.h"
#include "weir/ops/aggregate.h"

namespace weir::ops {

using accumulators = std::vector<std::unique_ptr<accumulator>>;

// The first item of a time-ordered random-access range with time >= t,
// searched from the front (from_back false) or from the back by doubling
// steps, then by bisection: a handful of probes near the chosen end where
// the next window's items are, instead of a bisection of a whole group's
// items that misses the cache at every step.
template <class Items, class TimeOf>
auto lower_bound_near(Items& items, core::millis t, TimeOf time_of, bool from_back) {
  const std::size_t n = items.size();
  std::size_t lo = 0, hi = n;  // the answer is in [lo, hi]
  if (!from_back) {
    std::size_t step = 1;
    while (lo < n && time_of(items[lo]) < t) {
      hi = std::min(n, lo + step);
      if (hi == n || time_of(items[hi - 1]) >= t) break;
      lo = hi;
      step *= 2;
    }
    if (lo < n && time_of(items[lo]) >= t) hi = lo;
  } else {
    std::size_t step = 1;
    while (hi > 0 && time_of(items[hi - 1]) >= t) {
      lo = hi > step ? hi - step : 0;
      if (lo == 0 || time_of(items[lo]) < t) break;
      hi = lo;
      step *= 2;
    }
    if (hi == 0 || time_of(items[hi - 1]) < t) lo = hi;
  }
  auto first = items.begin() + static_cast<std::ptrdiff_t>(lo);
  auto last = items.begin() + static_cast<std::ptrdiff_t>(hi);
  return std::lower_bound(first, last, t,
                          [&](const auto& item, core::millis x) { return time_of(item) < x; });
}

// Aggregates of successive windows [lo, hi) over one group's time-ordered
// items (hopping panes, sliding records), by two-stacks sliding aggregation:
// a front stack of suffix aggregates (the top covers the window's first item
// up to front_end) and one running aggregate of the items in
// [front_end, back_end). A window is merge(top, back); moving the window on
// pops the front and folds new items into the back; an empty front is
// rebuilt from the items. With lo and hi never decreasing, each item is
// folded at most twice and each window costs two merges, whatever the window
// length. Only accumulator::merge is needed, so every aggregate works.
//
// Items are folded in time order and merges keep that order (a merge treats
// its argument as later), so order-sensitive aggregates (first, last,
// collect) see what a fold of the items one by one would. A change to an
// item already folded must be reported through changed(); the next query
// then recomputes what it invalidated. A query that goes back in time starts
// over. Owned by one group of one task; touched by the task's thread only.
class window_sweep {
 public:
  // The item at time `t` was added, changed or inserted.
  void changed(core::millis t) noexcept {
    if (t < lo_) return;  // before every window still to be queried
    if (t < front_end_) {
      front_stale_ = true;
    } else if (t < back_end_) {
      back_stale_ = true;
    }
  }

  // Forgets everything (memory included).
  void reset() noexcept {
    stack_.clear();
    stack_.shrink_to_fit();
    back_.clear();
    lo_ = front_end_ = back_end_ = core::min_time;
    front_stale_ = back_stale_ = false;
  }

  // The aggregate of the items with time in [lo, hi).
  //   items: a random-access range sorted by time;
  //   time_of(item) -> core::millis;
  //   fold(accumulators&, item): adds the item's content;
  //   fresh() -> accumulators: empty accumulators of the window's aggregates.
  template <class Items, class TimeOf, class Fold, class Fresh>
  accumulators query(const Items& items, core::millis lo, core::millis hi, TimeOf time_of,
                     Fold fold, Fresh fresh) {
    // Windows start near the front of the items and end near the back.
    auto at_front = [&](core::millis t) { return lower_bound_near(items, t, time_of, false); };
    auto at = [&](core::millis t) { return lower_bound_near(items, t, time_of, true); };
    if (front_stale_ || lo < lo_ || hi < back_end_) {
      stack_.clear();
      back_.clear();
      front_end_ = back_end_ = lo;
      front_stale_ = back_stale_ = false;
    }
    lo_ = lo;
    while (!stack_.empty() && stack_.back().time < lo) stack_.pop_back();
    if (stack_.empty()) {
      // Rebuild the front from [lo, hi): suffix aggregates, last item first.
      back_.clear();
      back_stale_ = false;
      const auto first = at_front(lo);
      const auto last = at(hi);
      for (auto it = last; it != first;) {
        --it;
        suffix s{time_of(*it), fresh()};
        fold(s.acc, *it);
        if (!stack_.empty()) merge_into(s.acc, stack_.back().acc);
        stack_.push_back(std::move(s));
      }
      front_end_ = back_end_ = std::max(hi, lo);
    } else {
      if (back_stale_) {
        back_.clear();
        for (auto it = at(front_end_), end = at(back_end_); it != end; ++it)
          fold_back(*it, fold, fresh);
        back_stale_ = false;
      }
      if (hi > back_end_) {
        for (auto it = at(back_end_), end = at(hi); it != end; ++it) fold_back(*it, fold, fresh);
        back_end_ = hi;
      }
    }
    accumulators result = fresh();
    if (!stack_.empty()) merge_into(result, stack_.back().acc);
    if (!back_.empty()) merge_into(result, back_);
    return result;
  }

 private:
  struct suffix {
    core::millis time;  // of the first item it covers
    accumulators acc;   // the items from there up to front_end_
  };

  static void merge_into(accumulators& into, const accumulators& from) {
    for (std::size_t i = 0; i < into.size(); ++i) into[i]->merge(*from[i]);
  }
  template <class Item, class Fold, class Fresh>
  void fold_back(const Item& item, Fold& fold, Fresh& fresh) {
    if (back_.empty()) back_ = fresh();
    fold(back_, item);
  }

  std::vector<suffix> stack_;  // top (back()) = the earliest item
  accumulators back_;          // empty: no item folded
  core::millis lo_ = core::min_time;
  core::millis front_end_ = core::min_time;  // the stack covers items before this time
  core::millis back_end_ = core::min_time;   // back_ covers [front_end_, back_end_)
  bool front_stale_ = false;
  bool back_stale_ = false;
};

}  // namespace weir::ops
