#include "expr/ast.h"

namespace weir::expr {

const char* op_name(op o) noexcept {
  switch (o) {
    case op::coalesce:
      return "??";
    case op::logical_or:
      return "or";
    case op::logical_and:
      return "and";
    case op::logical_not:
      return "not";
    case op::eq:
      return "==";
    case op::ne:
      return "!=";
    case op::lt:
      return "<";
    case op::le:
      return "<=";
    case op::gt:
      return ">";
    case op::ge:
      return ">=";
    case op::in:
      return "in";
    case op::not_in:
      return "not in";
    case op::add:
      return "+";
    case op::sub:
      return "-";
    case op::mul:
      return "*";
    case op::div:
      return "/";
    case op::mod:
      return "%";
    case op::neg:
      return "-";
  }
  return "?";
}

bool is_comparison(op o) noexcept {
  return o >= op::eq && o <= op::not_in;
}

}  // namespace weir::expr
