#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "weir/expr/expression.h"

namespace weir::expr {

enum class token_kind : std::uint8_t {
  end,
  number,
  string,
  identifier,
  metadata,  // `$name`; text is the name without the `$`
  kw_and,
  kw_or,
  kw_not,
  kw_in,
  kw_true,
  kw_false,
  kw_null,
  lparen,
  rparen,
  lbracket,
  rbracket,
  comma,
  dot,
  plus,
  minus,
  star,
  slash,
  percent,
  eq,
  ne,
  lt,
  le,
  gt,
  ge,
  coalesce,  // ??
};

// One lexical unit of an expression, with where it came from.
struct token {
  token_kind kind = token_kind::end;
  std::size_t offset = 0;  // byte offset of the first character in the source
  std::size_t length = 0;  // bytes of source the token spans
  std::string text;        // identifier or metadata name, decoded string literal
  double number = 0;
};

// Splits an expression into tokens. The last token is always token_kind::end
// at source.size(). Errors point at the offending byte (for an unterminated
// string, at its opening quote).
std::variant<std::vector<token>, syntax_error> tokenize(std::string_view source);

// True for the reserved words and, or, not, in, true, false, null.
bool is_keyword(token_kind k) noexcept;

}  // namespace weir::expr
