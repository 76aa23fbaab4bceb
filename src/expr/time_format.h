#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "weir/core/time.h"

namespace weir::expr {

// The strptime/strftime subset behind parse_time and format_time: `%Y` (four
// digits), `%m %d %H %M %S` (two digits; one is enough when parsing), `%f`
// (fraction of a second: 1 to 9 digits when parsing, milliseconds when
// formatting), `%z` (`Z`, `+hh:mm`, `+hhmm` or `+hh`; formatted `+0000`), `%s`
// (epoch seconds) and `%%`. Every other character stands for itself. No
// locale, no time zone database: times are UTC plus the parsed offset.

// An empty string when `format` uses only these directives, else the reason.
std::string check_time_format(std::string_view format);

// Parses the whole of `text` as `format`; nullopt when it does not match, a
// field is out of range or the time is beyond +-2^53 ms. Missing date fields
// default to 1970-01-01, missing time fields to 0. With `%s` the date, time
// and offset fields are ignored. Precondition: check_time_format(format) is empty.
std::optional<core::millis> parse_time_with(std::string_view text, std::string_view format);

// Appends `ms` written as `format` in UTC; false (and nothing appended) when
// the time is outside the years 0000 to 9999. Precondition as above.
bool format_time_with(core::millis ms, std::string_view format, std::string& out);

// The first and last millisecond format_time can write (0000-01-01 to 9999-12-31).
inline constexpr core::millis min_formattable = -62'167'219'200'000;
inline constexpr core::millis max_formattable = 253'402'300'799'999;

}  // namespace weir::expr
