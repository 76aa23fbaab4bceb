#pragma once

#include <algorithm>

#include "weir/core/time.h"

namespace weir::time {

// The watermark of one input partition (DESIGN.md section 3): the largest
// event time read so far minus the allowed out-of-orderness. Never goes
// backwards. When the partition has been silent for `idle_timeout` of wall
// clock, the watermark follows the wall clock from where it stood: it moves
// ahead by the silence beyond the timeout, so windows close on quiet input.
// Owned by the task of its partition.
class watermark_tracker {
 public:
  // `idle_timeout` 0 turns idleness off. `wall_now` starts the silence count.
  watermark_tracker(core::millis max_out_of_orderness, core::millis idle_timeout,
                    core::millis start, core::millis wall_now)
      : delay_(max_out_of_orderness),
        idle_timeout_(idle_timeout),
        current_(start),
        active_at_(wall_now),
        active_watermark_(start) {}

  // Takes in a record's event time, read at wall time `wall_now`; returns
  // true when the watermark advanced.
  bool observe(core::millis event_time, core::millis wall_now) noexcept {
    active_at_ = wall_now;
    core::millis candidate =
        event_time < core::min_time + delay_ ? core::min_time : event_time - delay_;
    bool advanced = raise_to(candidate);
    active_watermark_ = current_;
    return advanced;
  }

  // Raises the watermark to `wm` if that is ahead; returns true if it moved.
  bool raise_to(core::millis wm) noexcept {
    if (wm <= current_) return false;
    current_ = wm;
    return true;
  }

  // Applies idleness at wall time `wall_now`; returns true if the watermark
  // moved.
  bool idle_advance(core::millis wall_now) noexcept {
    if (idle_timeout_ <= 0 || active_watermark_ == core::min_time) return false;
    core::millis silent = wall_now - active_at_;
    if (silent <= idle_timeout_) return false;
    return raise_to(active_watermark_ + (silent - idle_timeout_));
  }

  // The partition could not be read for `ms` of wall clock (its worker
  // waited on the broker): that time is not silence of the partition.
  void unreadable_for(core::millis ms) noexcept { active_at_ += std::max<core::millis>(ms, 0); }

  bool idle(core::millis wall_now) const noexcept {
    return idle_timeout_ > 0 && wall_now - active_at_ > idle_timeout_;
  }
  core::millis current() const noexcept { return current_; }

 private:
  core::millis delay_;
  core::millis idle_timeout_;
  core::millis current_;
  core::millis active_at_;         // wall time of the last record
  core::millis active_watermark_;  // the watermark then
};

}  // namespace weir::time
