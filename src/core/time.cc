#include "weir/core/time.h"

#include <charconv>
#include <cstdio>

namespace weir::core {
namespace {

struct unit {
  std::string_view name;
  millis ms;
};
constexpr unit units[] = {
    {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1'000}, {"ms", 1}};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil {
  std::int64_t y;
  unsigned m, d;
};
constexpr civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, std::size_t& pos, int n, int& out) {
  if (pos + static_cast<std::size_t>(n) > s.size()) return false;
  int v = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(n);
  out = v;
  return true;
}

}  // namespace

result<millis> parse_duration(std::string_view text) {
  auto bad = [&](std::string why) {
    return error{errc::invalid_config, "invalid duration '" + std::string(text) + "': " + why};
  };
  if (text == "0") return millis{0};
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || ptr == text.data()) {
    return bad("expected a number followed by a unit (ms, s, m, h, d)");
  }
  if (n < 0) return bad("must not be negative");
  std::string_view u(ptr, static_cast<std::size_t>(text.data() + text.size() - ptr));
  for (const auto& candidate : units) {
    if (u == candidate.name) {
      if (n > max_time / candidate.ms) return bad("too large");
      return n * candidate.ms;
    }
  }
  return bad(u.empty() ? "missing unit (ms, s, m, h, d)" : "unknown unit '" + std::string(u) + "'");
}

std::string format_duration(millis ms) {
  if (ms == 0) return "0s";
  for (const auto& u : units) {
    if (ms % u.ms == 0) return std::to_string(ms / u.ms) + std::string(u.name);
  }
  return std::to_string(ms) + "ms";
}

result<millis> parse_iso8601(std::string_view s) {
  auto bad = [&] {
    return error{errc::invalid_time, "not an ISO 8601 timestamp: '" + std::string(s) + "'"};
  };
  std::size_t p = 0;
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, p, 4, y) || p >= s.size() || s[p++] != '-' || !digits(s, p, 2, mo) ||
      p >= s.size() || s[p++] != '-' || !digits(s, p, 2, d)) {
    return bad();
  }
  millis frac_ms = 0;
  if (p < s.size() && (s[p] == 'T' || s[p] == 't' || s[p] == ' ')) {
    ++p;
    if (!digits(s, p, 2, h) || p >= s.size() || s[p++] != ':' || !digits(s, p, 2, mi)) return bad();
    if (p < s.size() && s[p] == ':') {
      ++p;
      if (!digits(s, p, 2, sec)) return bad();
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        int scale = 100, count = 0;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          frac_ms += (s[p] - '0') * scale;
          scale /= 10;
          ++p;
          ++count;
        }
        if (count == 0) return bad();
      }
    }
  }
  millis offset_ms = 0;
  if (p < s.size()) {
    char c = s[p];
    if (c == 'Z' || c == 'z') {
      ++p;
    } else if (c == '+' || c == '-') {
      ++p;
      int oh, om = 0;
      if (!digits(s, p, 2, oh)) return bad();
      if (p < s.size() && s[p] == ':') ++p;
      if (p < s.size() && !digits(s, p, 2, om)) return bad();
      offset_ms = (oh * 60 + om) * 60'000LL * (c == '+' ? 1 : -1);
    }
  }
  if (p != s.size() || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) {
    return bad();
  }
  millis days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  return days * 86'400'000 + h * 3'600'000LL + mi * 60'000LL + sec * 1'000LL + frac_ms - offset_ms;
}

std::string format_iso8601(millis ms) {
  millis days = floor_div(ms, 86'400'000);
  millis rem = ms - days * 86'400'000;
  civil c = civil_from_days(days);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(c.y), c.m, c.d, static_cast<long long>(rem / 3'600'000),
                static_cast<long long>(rem / 60'000 % 60), static_cast<long long>(rem / 1000 % 60),
                static_cast<long long>(rem % 1000));
  return buf;
}

}  // namespace weir::core
