#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace weir::core {

// A JSON value: what a record's payload decodes to and what expressions
// compute. Objects keep their keys in insertion order so that outputs are
// written in declaration order. Numbers are doubles; integral values within
// 2^53 are written without a fraction.
class value {
 public:
  enum class kind : std::uint8_t { null, boolean, number, string, array, object };
  using array_type = std::vector<value>;
  struct member;
  using object_type = std::vector<member>;

  value() = default;
  // Defined below, once `member` is complete (clang instantiates the
  // variant's members where these bodies are, GCC at the end of the file).
  value(std::nullptr_t);
  value(bool b);
  value(double d);
  value(int i);
  value(std::int64_t i);
  value(std::string s);
  value(std::string_view s);
  value(const char* s);
  value(array_type a);
  value(object_type o);

  kind type() const noexcept { return static_cast<kind>(v_.index()); }
  bool is_null() const noexcept { return type() == kind::null; }
  bool is_bool() const noexcept { return type() == kind::boolean; }
  bool is_number() const noexcept { return type() == kind::number; }
  bool is_string() const noexcept { return type() == kind::string; }
  bool is_array() const noexcept { return type() == kind::array; }
  bool is_object() const noexcept { return type() == kind::object; }

  bool as_bool() const { return std::get<bool>(v_); }
  double as_number() const { return std::get<double>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const array_type& as_array() const { return std::get<array_type>(v_); }
  array_type& as_array() { return std::get<array_type>(v_); }
  const object_type& as_object() const { return std::get<object_type>(v_); }
  object_type& as_object() { return std::get<object_type>(v_); }

  // Member lookup on an object; null for a missing key or a non-object.
  const value* find(std::string_view key) const noexcept;
  // Sets a member of an object (appending it if new). Precondition: is_object().
  void set(std::string_view key, value v);
  // Removes a member of an object if present.
  void erase(std::string_view key);

  friend bool operator==(const value& a, const value& b);

 private:
  std::variant<std::monostate, bool, double, std::string, array_type, object_type> v_;
};

struct value::member {
  std::string key;
  value val;
  friend bool operator==(const member&, const member&) = default;
};

inline value::value(std::nullptr_t) {}
inline value::value(bool b) : v_(b) {}
inline value::value(double d) : v_(d) {}
inline value::value(int i) : v_(static_cast<double>(i)) {}
inline value::value(std::int64_t i) : v_(static_cast<double>(i)) {}
inline value::value(std::string s) : v_(std::move(s)) {}
inline value::value(std::string_view s) : v_(std::string(s)) {}
inline value::value(const char* s) : v_(std::string(s)) {}
inline value::value(array_type a) : v_(std::move(a)) {}
inline value::value(object_type o) : v_(std::move(o)) {}

const char* kind_name(value::kind k) noexcept;

}  // namespace weir::core
