#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "weir/core/value.h"
#include "weir/expr/expression.h"

namespace weir::expr {

// A set of types, one bit per `type`: what an operator or a function argument
// accepts. `any` and `null` operands are always accepted statically.
using type_mask = std::uint8_t;

constexpr type_mask mask_of(type t) noexcept {
  return static_cast<type_mask>(1u << static_cast<unsigned>(t));
}
constexpr type_mask mask_scalar =
    mask_of(type::boolean) | mask_of(type::number) | mask_of(type::string);
constexpr type_mask mask_all = 0xff;

const char* type_name(type t) noexcept;
type type_of(core::value::kind k) noexcept;
inline type type_of(const core::value& v) noexcept {
  return type_of(v.type());
}

// The type of an expression that yields either `a` or `b`.
type join(type a, type b) noexcept;

// "a string", "a number or a boolean", ...: the accepted types for a message.
std::string describe(type_mask accepted);

// Messages shared by the static checker and the evaluator, so that a type
// error reads the same whether it is found at load time or on a record.
std::string needs_message(std::string_view what, std::string_view needs, type got);
std::string arg_message(std::string_view function, std::size_t index, std::size_t max_args,
                        type_mask accepted, type got);

}  // namespace weir::expr
