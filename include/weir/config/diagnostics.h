#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weir/config/node.h"
#include "weir/core/time.h"

namespace weir::config {

struct diagnostic {
  std::string file;
  mark at;
  std::string message;
  // FILE:LINE:COL: message
  std::string format() const;
};

// Collects every problem found in one pipeline file, so validation reports
// them all rather than stopping at the first. Owned by one loader at a time.
class diagnostics {
 public:
  explicit diagnostics(std::string file) : file_(std::move(file)) {}
  void error(mark at, std::string message);
  bool ok() const noexcept { return list_.empty(); }
  const std::vector<diagnostic>& list() const noexcept { return list_; }
  const std::string& file() const noexcept { return file_; }

 private:
  std::string file_;
  std::vector<diagnostic> list_;
};

// Reads the members of a map node, remembering which keys were asked for, so
// that `finish` can report every unknown key with the list of known ones.
class map_reader {
 public:
  // `what` names the map in messages ("source", "window step").
  map_reader(const node& n, diagnostics& d, std::string what);
  const node* optional(std::string_view key);
  const node* required(std::string_view key);
  // Reports unknown keys; call once after every known key was asked for.
  void finish();
  bool valid() const noexcept { return map_ != nullptr; }

 private:
  const node* map_;
  diagnostics& diag_;
  std::string what_;
  std::vector<std::string> known_;
};

// Typed scalar readers: on a wrong type they report the problem at the node
// and return nullopt.
std::optional<std::string> read_string(const node& n, diagnostics& d, std::string_view what);
std::optional<core::millis> read_duration(const node& n, diagnostics& d, std::string_view what);
std::optional<bool> read_bool(const node& n, diagnostics& d, std::string_view what);
std::optional<long long> read_int(const node& n, diagnostics& d, std::string_view what,
                                  long long min, long long max);
// A scalar or a sequence of scalars, as a list.
std::vector<const node*> read_string_list(const node& n, diagnostics& d, std::string_view what);

}  // namespace weir::config
