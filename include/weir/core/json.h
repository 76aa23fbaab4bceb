#pragma once

#include <string>
#include <string_view>

#include "weir/core/result.h"
#include "weir/core/value.h"

namespace weir::core {

// Parses one JSON document. Errors carry errc::invalid_json and the byte offset.
result<value> parse_json(std::string_view text);

// Appends the compact JSON form of `v` to `out`.
void write_json(const value& v, std::string& out);
std::string to_json(const value& v);

// Appends a number as JSON: integral values within 2^53 without a fraction,
// others in their shortest round-trip form; NaN and infinities as null.
void write_json_number(double d, std::string& out);

}  // namespace weir::core
