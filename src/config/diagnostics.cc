#include "weir/config/diagnostics.h"

#include <algorithm>
#include <charconv>

namespace weir::config {

std::string diagnostic::format() const {
  return file + ":" + std::to_string(at.line) + ":" + std::to_string(at.column) + ": " + message;
}

void diagnostics::error(mark at, std::string message) {
  list_.push_back(diagnostic{file_, at, std::move(message)});
}

map_reader::map_reader(const node& n, diagnostics& d, std::string what)
    : map_(n.is_map() ? &n : nullptr), diag_(d), what_(std::move(what)) {
  if (!map_) d.error(n.at, what_ + " must be a map, found " + n.kind_description());
}

const node* map_reader::optional(std::string_view key) {
  known_.emplace_back(key);
  return map_ ? map_->get(key) : nullptr;
}

const node* map_reader::required(std::string_view key) {
  const node* n = optional(key);
  if (map_ && !n) diag_.error(map_->at, what_ + " needs '" + std::string(key) + "'");
  return n;
}

void map_reader::finish() {
  if (!map_) return;
  for (const auto& e : map_->entries) {
    if (std::find(known_.begin(), known_.end(), e.key.scalar) != known_.end()) continue;
    std::string expected;
    for (const auto& k : known_) expected += (expected.empty() ? "" : ", ") + k;
    diag_.error(e.key.at, "unknown key '" + e.key.scalar + "' in " + what_ +
                              (expected.empty() ? "" : " (expected one of: " + expected + ")"));
  }
}

std::optional<std::string> read_string(const node& n, diagnostics& d, std::string_view what) {
  if (!n.is_scalar() || n.scalar.empty()) {
    d.error(n.at, std::string(what) + " must be a non-empty string, found " +
                      (n.is_scalar() ? "an empty string" : n.kind_description()));
    return std::nullopt;
  }
  return n.scalar;
}

std::optional<core::millis> read_duration(const node& n, diagnostics& d, std::string_view what) {
  if (!n.is_scalar()) {
    d.error(n.at,
            std::string(what) + " must be a duration such as 5s, found " + n.kind_description());
    return std::nullopt;
  }
  auto r = core::parse_duration(n.scalar);
  if (!r) {
    d.error(n.at, std::string(what) + ": " + r.err().message);
    return std::nullopt;
  }
  return *r;
}

std::optional<bool> read_bool(const node& n, diagnostics& d, std::string_view what) {
  if (n.is_scalar() && !n.quoted) {
    if (n.scalar == "true") return true;
    if (n.scalar == "false") return false;
  }
  d.error(n.at, std::string(what) + " must be true or false");
  return std::nullopt;
}

std::optional<long long> read_int(const node& n, diagnostics& d, std::string_view what,
                                  long long min, long long max) {
  long long v = 0;
  if (n.is_scalar() && !n.quoted) {
    auto [p, ec] = std::from_chars(n.scalar.data(), n.scalar.data() + n.scalar.size(), v);
    if (ec == std::errc() && p == n.scalar.data() + n.scalar.size()) {
      if (v >= min && v <= max) return v;
      d.error(n.at, std::string(what) + " must be between " + std::to_string(min) + " and " +
                        std::to_string(max));
      return std::nullopt;
    }
  }
  d.error(n.at, std::string(what) + " must be an integer");
  return std::nullopt;
}

std::vector<const node*> read_string_list(const node& n, diagnostics& d, std::string_view what) {
  std::vector<const node*> out;
  if (n.is_scalar()) {
    if (read_string(n, d, what)) out.push_back(&n);
  } else if (n.is_sequence()) {
    for (const auto& item : n.items) {
      if (read_string(item, d, what)) out.push_back(&item);
    }
    if (n.items.empty()) d.error(n.at, std::string(what) + " must not be empty");
  } else {
    d.error(n.at, std::string(what) + " must be a string or a list of strings, found " +
                      n.kind_description());
  }
  return out;
}

}  // namespace weir::config
