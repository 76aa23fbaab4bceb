#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "weir/core/json.h"
#include "weir/core/record.h"
#include "weir/expr/expression.h"

namespace weir::expr::testing {

// Compiles `source` and evaluates it against `record_json` (and `meta`), and
// renders the outcome as one comparable string:
//   the result as compact JSON          "3", "\"ab\"", "null"
//   "syntax_error@OFFSET: message"      when compilation fails
//   "type_error: message"               when evaluation fails
inline std::string run(std::string_view source, std::string_view record_json = "{}",
                       const core::record_view* meta = nullptr) {
  auto compiled = expression::compile(source);
  if (auto* e = std::get_if<syntax_error>(&compiled)) {
    return "syntax_error@" + std::to_string(e->offset) + ": " + e->message;
  }
  auto record = core::parse_json(record_json);
  if (!record.ok()) return "bad test record: " + record.err().message;
  auto result = std::get<expression>(compiled).eval(scope{&*record, meta});
  if (!result.ok()) {
    return std::string(core::errc_name(result.err().code)) + ": " + result.err().message;
  }
  return core::to_json(*result);
}

// The compile error of `source` as "OFFSET: message", or "compiled".
inline std::string compile_error(std::string_view source) {
  auto compiled = expression::compile(source);
  if (auto* e = std::get_if<syntax_error>(&compiled)) {
    return std::to_string(e->offset) + ": " + e->message;
  }
  return "compiled";
}

// Compiles a source expected to be valid.
inline expression compile_ok(std::string_view source) {
  auto compiled = expression::compile(source);
  if (auto* e = std::get_if<syntax_error>(&compiled)) {
    throw std::runtime_error("unexpected syntax error at " + std::to_string(e->offset) + ": " +
                             e->message);
  }
  return std::get<expression>(std::move(compiled));
}

}  // namespace weir::expr::testing
