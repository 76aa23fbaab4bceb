#pragma once

#include <chrono>

#include "weir/core/time.h"

namespace weir::time {

// Wall-clock time as weir sees it: the system clock when running, a clock the
// test driver moves by hand under `weir test`. Read by the owning task's
// thread only.
class clock {
 public:
  virtual ~clock() = default;
  virtual core::millis now() const noexcept = 0;
};

class system_clock final : public clock {
 public:
  core::millis now() const noexcept override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Virtual time: starts at `start` and moves only through advance().
class manual_clock final : public clock {
 public:
  explicit manual_clock(core::millis start = 0) : now_(start) {}
  core::millis now() const noexcept override { return now_; }
  void advance(core::millis by) noexcept { now_ += by; }
  void set(core::millis t) noexcept { now_ = t; }

 private:
  core::millis now_;
};

}  // namespace weir::time
