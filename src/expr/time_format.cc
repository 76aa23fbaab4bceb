#include "expr/time_format.h"

#include <cstdint>

namespace weir::expr {
namespace {

constexpr core::millis ms_per_day = 86'400'000;
constexpr core::millis max_exact = 9'007'199'254'740'992;  // 2^53

bool is_leap(std::int64_t y) noexcept {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int days_in_month(std::int64_t y, int m) noexcept {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, int m, int d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const std::int64_t yoe = y - era * 400;
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct civil {
  std::int64_t y;
  int m;
  int d;
};

civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return civil{yoe + era * 400 + (m <= 2), m, d};
}

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// Reads between `min` and `max` digits at `p`.
bool read_digits(std::string_view s, std::size_t& p, int min, int max, std::int64_t& out) {
  out = 0;
  int n = 0;
  while (n < max && p < s.size() && is_digit(s[p])) {
    out = out * 10 + (s[p] - '0');
    ++p;
    ++n;
  }
  return n >= min;
}

bool read_field(std::string_view s, std::size_t& p, std::int64_t lo, std::int64_t hi, int& out) {
  std::int64_t v = 0;
  if (!read_digits(s, p, 1, 2, v) || v < lo || v > hi) return false;
  out = static_cast<int>(v);
  return true;
}

// `Z`, `+hh:mm`, `+hhmm` or `+hh`, as signed minutes.
bool read_offset(std::string_view s, std::size_t& p, std::int64_t& minutes) {
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
    minutes = 0;
    return true;
  }
  if (p >= s.size() || (s[p] != '+' && s[p] != '-')) return false;
  const bool negative = s[p++] == '-';
  std::int64_t h = 0, m = 0;
  if (!read_digits(s, p, 2, 2, h) || h > 23) return false;
  if (p < s.size() && s[p] == ':') {
    ++p;
    if (!read_digits(s, p, 2, 2, m)) return false;
  } else if (p < s.size() && is_digit(s[p])) {
    if (!read_digits(s, p, 2, 2, m)) return false;
  }
  if (m > 59) return false;
  minutes = (negative ? -1 : 1) * (h * 60 + m);
  return true;
}

void append_padded(std::int64_t v, int width, std::string& out) {
  char buf[24];
  int n = 0;
  std::uint64_t u = static_cast<std::uint64_t>(v < 0 ? -v : v);
  do {
    buf[n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  while (n < width) buf[n++] = '0';
  if (v < 0) out.push_back('-');
  while (n > 0) out.push_back(buf[--n]);
}

}  // namespace

std::string check_time_format(std::string_view format) {
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    if (++i == format.size()) return "time format ends with a lone '%'";
    if (std::string_view("YmdHMSfzs%").find(format[i]) == std::string_view::npos) {
      return "time format has unsupported directive '%" + std::string(1, format[i]) +
             "' (supported: %Y %m %d %H %M %S %f %z %s %%)";
    }
  }
  return {};
}

std::optional<core::millis> parse_time_with(std::string_view text, std::string_view format) {
  std::int64_t year = 1970, offset_minutes = 0, epoch_seconds = 0, frac_ms = 0;
  int month = 1, day = 1, hour = 0, minute = 0, second = 0;
  bool has_epoch = false;
  bool negative_epoch = false;
  std::size_t p = 0;
  for (std::size_t i = 0; i < format.size(); ++i) {
    const char f = format[i];
    if (f != '%' || i + 1 == format.size()) {
      if (p >= text.size() || text[p] != f) return std::nullopt;
      ++p;
      continue;
    }
    bool ok = true;
    switch (format[++i]) {
      case 'Y':
        ok = read_digits(text, p, 4, 4, year);
        break;
      case 'm':
        ok = read_field(text, p, 1, 12, month);
        break;
      case 'd':
        ok = read_field(text, p, 1, 31, day);
        break;
      case 'H':
        ok = read_field(text, p, 0, 23, hour);
        break;
      case 'M':
        ok = read_field(text, p, 0, 59, minute);
        break;
      case 'S':
        ok = read_field(text, p, 0, 59, second);
        break;
      case 'f': {
        const std::size_t start = p;
        std::int64_t ignored = 0;
        ok = read_digits(text, p, 1, 9, ignored);
        frac_ms = 0;
        for (std::size_t k = 0; k < 3; ++k) {
          const std::size_t at = start + k;
          frac_ms = frac_ms * 10 + (at < p ? text[at] - '0' : 0);
        }
        break;
      }
      case 'z':
        ok = read_offset(text, p, offset_minutes);
        break;
      case 's':
        has_epoch = true;
        negative_epoch = p < text.size() && text[p] == '-';
        if (negative_epoch) ++p;
        ok = read_digits(text, p, 1, 13, epoch_seconds);
        break;
      case '%':
        ok = p < text.size() && text[p++] == '%';
        break;
      default:
        return std::nullopt;
    }
    if (!ok) return std::nullopt;
  }
  if (p != text.size()) return std::nullopt;
  core::millis ms = 0;
  if (has_epoch) {
    ms = epoch_seconds * 1000 + frac_ms;
    if (negative_epoch) ms = -ms;
  } else {
    if (day > days_in_month(year, month)) return std::nullopt;
    const std::int64_t days = days_from_civil(year, month, day);
    ms = days * ms_per_day + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + frac_ms;
  }
  if (ms > max_exact || ms < -max_exact) return std::nullopt;
  return ms;
}

bool format_time_with(core::millis ms, std::string_view format, std::string& out) {
  if (ms < min_formattable || ms > max_formattable) return false;
  const std::int64_t days = core::floor_div(ms, ms_per_day);
  const std::int64_t rem = ms - days * ms_per_day;
  const civil c = civil_from_days(days);
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 == format.size()) {
      out.push_back(format[i]);
      continue;
    }
    switch (format[++i]) {
      case 'Y':
        append_padded(c.y, 4, out);
        break;
      case 'm':
        append_padded(c.m, 2, out);
        break;
      case 'd':
        append_padded(c.d, 2, out);
        break;
      case 'H':
        append_padded(rem / 3'600'000, 2, out);
        break;
      case 'M':
        append_padded(rem / 60'000 % 60, 2, out);
        break;
      case 'S':
        append_padded(rem / 1000 % 60, 2, out);
        break;
      case 'f':
        append_padded(rem % 1000, 3, out);
        break;
      case 'z':
        out += "+0000";
        break;
      case 's':
        append_padded(core::floor_div(ms, 1000), 1, out);
        break;
      default:
        out.push_back(format[i]);
        break;
    }
  }
  return true;
}

}  // namespace weir::expr
