#include "weir/core/value.h"

#include "weir/core/result.h"

#include <algorithm>

namespace weir::core {

const value* value::find(std::string_view key) const noexcept {
  if (!is_object()) return nullptr;
  for (const auto& m : as_object()) {
    if (m.key == key) return &m.val;
  }
  return nullptr;
}

void value::set(std::string_view key, value v) {
  auto& obj = as_object();
  for (auto& m : obj) {
    if (m.key == key) {
      m.val = std::move(v);
      return;
    }
  }
  obj.push_back(member{std::string(key), std::move(v)});
}

void value::erase(std::string_view key) {
  if (!is_object()) return;
  auto& obj = as_object();
  obj.erase(std::remove_if(obj.begin(), obj.end(), [&](const member& m) { return m.key == key; }),
            obj.end());
}

bool operator==(const value& a, const value& b) {
  return a.v_ == b.v_;
}

const char* kind_name(value::kind k) noexcept {
  switch (k) {
    case value::kind::null:
      return "null";
    case value::kind::boolean:
      return "boolean";
    case value::kind::number:
      return "number";
    case value::kind::string:
      return "string";
    case value::kind::array:
      return "array";
    case value::kind::object:
      return "object";
  }
  return "unknown";
}

const char* errc_name(errc code) noexcept {
  switch (code) {
    case errc::invalid_json:
      return "invalid_json";
    case errc::missing_field:
      return "missing_field";
    case errc::type_error:
      return "type_error";
    case errc::invalid_time:
      return "invalid_time";
    case errc::table_miss:
      return "table_miss";
    case errc::invalid_config:
      return "invalid_config";
    case errc::kafka:
      return "kafka";
    case errc::aborted:
      return "aborted";
    case errc::state:
      return "state";
    case errc::io:
      return "io";
    case errc::internal:
      return "internal";
  }
  return "internal";
}

}  // namespace weir::core
