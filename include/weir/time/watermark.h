#pragma once

#include <algorithm>

#include "weir/core/time.h"

namespace weir::time {

// The watermark of one input partition: the largest event time read so far
// minus the allowed out-of-orderness. Never goes backwards. Owned by the task
// of its partition.
class watermark_tracker {
 public:
  explicit watermark_tracker(core::millis max_out_of_orderness, core::millis start = core::min_time)
      : delay_(max_out_of_orderness), current_(start) {}

  // Takes in a record's event time; returns true when the watermark advanced.
  bool observe(core::millis event_time) noexcept {
    core::millis candidate =
        event_time < core::min_time + delay_ ? core::min_time : event_time - delay_;
    if (candidate <= current_) return false;
    current_ = candidate;
    return true;
  }
  core::millis current() const noexcept { return current_; }

 private:
  core::millis delay_;
  core::millis current_;
};

}  // namespace weir::time
