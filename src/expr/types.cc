#include "expr/types.h"

namespace weir::expr {

const char* type_name(type t) noexcept {
  switch (t) {
    case type::any:
      return "any";
    case type::null:
      return "null";
    case type::boolean:
      return "boolean";
    case type::number:
      return "number";
    case type::string:
      return "string";
    case type::array:
      return "array";
    case type::object:
      return "object";
  }
  return "any";
}

type type_of(core::value::kind k) noexcept {
  switch (k) {
    case core::value::kind::null:
      return type::null;
    case core::value::kind::boolean:
      return type::boolean;
    case core::value::kind::number:
      return type::number;
    case core::value::kind::string:
      return type::string;
    case core::value::kind::array:
      return type::array;
    case core::value::kind::object:
      return type::object;
  }
  return type::any;
}

type join(type a, type b) noexcept {
  if (a == b) return a;
  if (a == type::null) return b;
  if (b == type::null) return a;
  return type::any;
}

std::string describe(type_mask accepted) {
  static constexpr struct {
    type t;
    const char* text;
  } names[] = {{type::string, "a string"},
               {type::number, "a number"},
               {type::boolean, "a boolean"},
               {type::array, "an array"},
               {type::object, "an object"}};
  std::string out;
  std::size_t total = 0;
  for (const auto& n : names) total += (accepted & mask_of(n.t)) != 0;
  std::size_t written = 0;
  for (const auto& n : names) {
    if ((accepted & mask_of(n.t)) == 0) continue;
    if (written > 0) out += written + 1 == total ? " or " : ", ";
    out += n.text;
    ++written;
  }
  return out;
}

std::string needs_message(std::string_view what, std::string_view needs, type got) {
  std::string out(what);
  out += " needs ";
  out += needs;
  out += ", got ";
  out += type_name(got);
  return out;
}

std::string arg_message(std::string_view function, std::size_t index, std::size_t max_args,
                        type_mask accepted, type got) {
  std::string out = "function '";
  out += function;
  out += "' needs ";
  out += describe(accepted);
  if (max_args > 1) {
    out += " as argument ";
    out += std::to_string(index + 1);
  }
  out += ", got ";
  out += type_name(got);
  return out;
}

}  // namespace weir::expr
