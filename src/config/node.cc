#include "weir/config/node.h"

namespace weir::config {

const node* node::get(std::string_view key) const noexcept {
  if (type != kind::map) return nullptr;
  for (const auto& e : entries) {
    if (e.key.scalar == key) return &e.val;
  }
  return nullptr;
}

mark node::mark_at(std::size_t offset) const noexcept {
  if (!offsets_exact || offset > scalar.size()) return at;
  return mark{at.line, at.column + (quoted ? 1 : 0) + static_cast<int>(offset)};
}

const char* node::kind_description() const noexcept {
  switch (type) {
    case kind::null:
      return "nothing";
    case kind::scalar:
      return "a scalar";
    case kind::sequence:
      return "a list";
    case kind::map:
      return "a map";
  }
  return "a node";
}

}  // namespace weir::config
