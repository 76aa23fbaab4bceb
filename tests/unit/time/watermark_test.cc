#include <catch2/catch.hpp>

#include "weir/time/watermark.h"

using weir::time::watermark_tracker;

TEST_CASE("the watermark trails the largest event time and never goes back") {
  watermark_tracker w(1000, 0, weir::core::min_time, 0);
  CHECK(w.observe(5000, 0));
  CHECK(w.current() == 4000);
  CHECK_FALSE(w.observe(3000, 0));
  CHECK(w.current() == 4000);
  CHECK_FALSE(w.idle_advance(1'000'000));  // idleness off
}

TEST_CASE("an idle partition's watermark follows the clock beyond the timeout") {
  watermark_tracker w(0, 30'000, weir::core::min_time, 0);
  CHECK_FALSE(w.idle_advance(100'000));  // nothing read yet: nothing to follow
  w.observe(10'000, 1'000);
  CHECK_FALSE(w.idle_advance(31'000));
  CHECK(w.idle_advance(36'000));
  CHECK(w.current() == 15'000);
  CHECK(w.idle(36'000));
}

TEST_CASE("time the partition could not be read is not silence") {
  watermark_tracker w(0, 30'000, weir::core::min_time, 0);
  w.observe(10'000, 1'000);
  // 40 s waiting on the broker, then 10 s of real silence: not idle yet.
  w.unreadable_for(40'000);
  CHECK_FALSE(w.idle(51'000));
  CHECK_FALSE(w.idle_advance(51'000));
  CHECK(w.current() == 10'000);
  CHECK(w.idle_advance(76'000));
  CHECK(w.current() == 15'000);
}
