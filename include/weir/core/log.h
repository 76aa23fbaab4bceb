#pragma once

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <utility>

namespace weir::core::log {

// One line per event on stderr, as text or JSON. The sink is process-wide and
// configured once by app/ before any thread starts; writes are serialised.
enum class level : std::uint8_t { debug, info, warn, error };
enum class format : std::uint8_t { text, json };

void configure(level min_level, format fmt);
bool enabled(level l) noexcept;
bool parse_level(std::string_view s, level& out) noexcept;

using field = std::pair<std::string_view, std::string_view>;
// Writes `message` with key=value fields. Never call on the per-record path
// except through a rate limiter.
void write(level l, std::string_view message, std::initializer_list<field> fields = {});

inline void debug(std::string_view m, std::initializer_list<field> f = {}) {
  write(level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<field> f = {}) {
  write(level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<field> f = {}) {
  write(level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<field> f = {}) {
  write(level::error, m, f);
}

}  // namespace weir::core::log
