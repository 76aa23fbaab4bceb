#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::config {

// A position in a pipeline file, 1-based; line 0 means unknown.
struct mark {
  int line = 0;
  int column = 0;
};

// A YAML node with its position, after environment interpolation. The rest of
// weir reads pipeline files through this type and never sees the YAML
// library. Immutable once loaded.
class node {
 public:
  enum class kind : std::uint8_t { null, scalar, sequence, map };
  struct entry;

  kind type = kind::null;
  mark at;
  std::string scalar;          // text of a scalar (also set for an explicit null: "null", "~", "")
  bool quoted = false;         // the scalar was written in quotes (so `"5"` is a string)
  bool offsets_exact = false;  // scalar text maps 1:1 onto one source line (see mark_at)
  std::vector<node> items;     // sequence
  std::vector<entry> entries;  // map, in file order

  bool is_scalar() const noexcept { return type == kind::scalar; }
  bool is_map() const noexcept { return type == kind::map; }
  bool is_sequence() const noexcept { return type == kind::sequence; }
  bool is_null() const noexcept { return type == kind::null; }

  // Map member by key, or nullptr.
  const node* get(std::string_view key) const noexcept;

  // Position of byte `offset` of the scalar text, so errors inside an
  // expression can point at the right column. Falls back to the scalar's
  // start when the text was interpolated or spans lines.
  mark mark_at(std::size_t offset) const noexcept;

  // Short description of the node's kind for error messages ("a map").
  const char* kind_description() const noexcept;
};

struct node::entry {
  node key;
  node val;
};

}  // namespace weir::config
