#include "weir/core/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>

#include "weir/core/time.h"

namespace weir::core::log {
namespace {

std::atomic<level> min_level_{level::info};
std::atomic<format> format_{format::text};
std::mutex write_mu_;

const char* level_name(level l) {
  switch (l) {
    case level::debug:
      return "debug";
    case level::info:
      return "info";
    case level::warn:
      return "warn";
    case level::error:
      return "error";
  }
  return "info";
}

void json_escape(std::string_view s, std::string& out) {
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

bool needs_quotes(std::string_view s) {
  if (s.empty()) return true;
  for (char c : s) {
    if (c == ' ' || c == '"' || c == '=' || c == '\n') return true;
  }
  return false;
}

}  // namespace

void configure(level min_level, format fmt) {
  min_level_.store(min_level);
  format_.store(fmt);
}

bool enabled(level l) noexcept {
  return l >= min_level_.load(std::memory_order_relaxed);
}

bool parse_level(std::string_view s, level& out) noexcept {
  if (s == "debug")
    out = level::debug;
  else if (s == "info")
    out = level::info;
  else if (s == "warn" || s == "warning")
    out = level::warn;
  else if (s == "error")
    out = level::error;
  else
    return false;
  return true;
}

void write(level l, std::string_view message, std::initializer_list<field> fields) {
  if (!enabled(l)) return;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  std::string line;
  line.reserve(128);
  if (format_.load(std::memory_order_relaxed) == format::json) {
    line +=
        "{\"ts\":\"" + format_iso8601(now) + "\",\"level\":\"" + level_name(l) + "\",\"msg\":\"";
    json_escape(message, line);
    line += '"';
    for (const auto& [k, v] : fields) {
      line += ",\"";
      json_escape(k, line);
      line += "\":\"";
      json_escape(v, line);
      line += '"';
    }
    line += "}\n";
  } else {
    line += format_iso8601(now);
    line += ' ';
    line += level_name(l);
    line += ' ';
    line += message;
    for (const auto& [k, v] : fields) {
      line += ' ';
      line += k;
      line += '=';
      if (needs_quotes(v)) {
        line += '"';
        json_escape(v, line);
        line += '"';
      } else {
        line += v;
      }
    }
    line += '\n';
  }
  std::lock_guard lock(write_mu_);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace weir::core::log
