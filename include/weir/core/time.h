#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "weir/core/result.h"

namespace weir::core {

// Event and processing times are epoch milliseconds throughout weir.
using millis = std::int64_t;
inline constexpr millis min_time = std::numeric_limits<millis>::min();
inline constexpr millis max_time = std::numeric_limits<millis>::max();

// Parses a duration such as `250ms`, `5s`, `10m`, `1h`, `2d` (an integer and a
// unit; `0` alone is allowed). Errors are errc::invalid_config with a reason.
result<millis> parse_duration(std::string_view text);
// Formats a duration in the largest unit that divides it exactly (`90s`, `2m`).
std::string format_duration(millis ms);

// Parses an ISO 8601 / RFC 3339 timestamp (`2024-05-01T12:00:00Z`,
// fractional seconds and `+hh:mm` offsets allowed; a date-time without offset
// is UTC). Errors are errc::invalid_time.
result<millis> parse_iso8601(std::string_view text);
// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
std::string format_iso8601(millis ms);

// Floor division for window alignment of negative times.
constexpr millis floor_div(millis a, millis b) noexcept {
  millis q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

}  // namespace weir::core
