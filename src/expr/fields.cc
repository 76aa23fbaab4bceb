#include "weir/expr/fields.h"

#include "expr/parser.h"

namespace weir::expr {
namespace {

void collect(const ast& n, field_reads& out) {
  switch (n.kind) {
    case ast_kind::field:
      out.fields.push_back({n.name, n.offset});
      break;
    case ast_kind::root:
      out.whole_value = true;
      break;
    case ast_kind::meta:
      if (n.meta == meta_field::key) out.record_key = true;
      break;
    default:
      break;
  }
  for (const auto& c : n.children) collect(*c, out);
}

}  // namespace

std::optional<field_reads> reads_of(std::string_view source) {
  auto parsed = parse(source);
  auto* tree = std::get_if<std::unique_ptr<ast>>(&parsed);
  if (!tree) return std::nullopt;
  field_reads out;
  collect(**tree, out);
  out.only_record_key = (*tree)->kind == ast_kind::meta && (*tree)->meta == meta_field::key;
  return out;
}

}  // namespace weir::expr
