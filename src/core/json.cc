#include "weir/core/json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <optional>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stream.h>

namespace weir::core {
namespace {

// Builds a value straight from RapidJSON's SAX events, so no intermediate DOM
// is allocated. Members and elements of the open containers wait in two flat
// scratch vectors; each container is allocated once, at its exact size, when
// it closes. The scratch vectors keep their capacity from record to record
// (one set per thread), so a steady stream of records allocates only the
// containers and the strings longer than the small-string buffer.
class value_builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, value_builder> {
 public:
  struct scratch {
    std::vector<value::member> members;
    std::vector<value> elements;
  };
  explicit value_builder(scratch& s) : members_(s.members), elements_(s.elements) {
    members_.clear();
    elements_.clear();
  }

  bool Null() { return put(value{}); }
  bool Bool(bool b) { return put(value{b}); }
  bool Int(int i) { return put(value{static_cast<double>(i)}); }
  bool Uint(unsigned u) { return put(value{static_cast<double>(u)}); }
  bool Int64(int64_t i) { return put(value{static_cast<double>(i)}); }
  bool Uint64(uint64_t u) { return put(value{static_cast<double>(u)}); }
  bool Double(double d) { return put(value{d}); }
  // Numbers arrive as text (kParseNumbersAsStringsFlag) and are converted
  // here, exactly and without the parser's own floating-point code. Integers
  // of up to 15 digits are exact in a double and take a shortcut.
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
    if (auto d = small_integer(s, n)) return put(value{*d});
    double d = 0;
    auto [end, ec] = std::from_chars(s, s + n, d);
    if (ec != std::errc() || end != s + n || !std::isfinite(d)) {
      bad_number_.assign(s, n);
      return false;
    }
    return put(value{d});
  }
  const std::string& bad_number() const noexcept { return bad_number_; }
  bool String(const char* s, rapidjson::SizeType n, bool) { return put(value{std::string(s, n)}); }
  bool StartObject() {
    stack_.push_back(frame{false, members_.size(), 0});
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    auto& top = stack_.back();
    const std::string_view key(s, n);
    // Duplicate keys: the last value wins, at the first one's position, as in
    // most JSON readers.
    for (std::size_t i = top.base; i < members_.size(); ++i) {
      if (members_[i].key == key) {
        top.slot = i;
        return true;
      }
    }
    top.slot = members_.size();
    members_.emplace_back().key.assign(s, n);
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    const std::size_t base = stack_.back().base;
    value::object_type obj;
    // The record itself gets room for a few more fields: map steps add them,
    // and growing a full vector would move every member.
    obj.reserve(members_.size() - base + (stack_.size() == 1 ? root_headroom : 0));
    std::move(members_.begin() + static_cast<std::ptrdiff_t>(base), members_.end(),
              std::back_inserter(obj));
    members_.resize(base);
    stack_.pop_back();
    return put(value{std::move(obj)});
  }
  bool StartArray() {
    stack_.push_back(frame{true, elements_.size(), 0});
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    const std::size_t base = stack_.back().base;
    value::array_type arr;
    arr.reserve(elements_.size() - base);
    std::move(elements_.begin() + static_cast<std::ptrdiff_t>(base), elements_.end(),
              std::back_inserter(arr));
    elements_.resize(base);
    stack_.pop_back();
    return put(value{std::move(arr)});
  }

  value take() { return std::move(root_); }

 private:
  // An open container: its first member or element in the scratch vectors
  // and, for an object, the member the next value goes to.
  static constexpr std::size_t root_headroom = 4;
  struct frame {
    bool is_array;
    std::size_t base;
    std::size_t slot;
  };

  static std::optional<double> small_integer(const char* s, std::size_t n) {
    const bool negative = n > 0 && s[0] == '-';
    const std::size_t digits = n - (negative ? 1 : 0);
    if (digits == 0 || digits > 15) return std::nullopt;
    std::uint64_t m = 0;
    for (std::size_t i = negative ? 1 : 0; i < n; ++i) {
      const unsigned d = static_cast<unsigned char>(s[i]) - '0';
      if (d > 9) return std::nullopt;
      m = m * 10 + d;
    }
    // -0 stays negative zero, as from_chars makes it.
    return negative ? -static_cast<double>(m) : static_cast<double>(m);
  }

  bool put(value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    const auto& top = stack_.back();
    if (top.is_array)
      elements_.push_back(std::move(v));
    else
      members_[top.slot].val = std::move(v);
    return true;
  }

  std::vector<value::member>& members_;
  std::vector<value>& elements_;
  std::vector<frame> stack_;
  value root_;
  std::string bad_number_;
};

// Whether a byte must be escaped inside a JSON string: control characters,
// the quote and the backslash.
constexpr bool needs_escape(unsigned char c) noexcept {
  return c < 0x20 || c == '"' || c == '\\';
}

void write_escaped(unsigned char c, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    default: {
      const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
      out.append(u, sizeof u);
    }
  }
}

// Appends `s` quoted; runs of bytes that need no escape are copied at once.
void write_string(std::string_view s, std::string& out) {
  out.push_back('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p != end) {
    const char* run = p;
    while (p != end && !needs_escape(static_cast<unsigned char>(*p))) ++p;
    out.append(run, static_cast<std::size_t>(p - run));
    if (p == end) break;
    write_escaped(static_cast<unsigned char>(*p), out);
    ++p;
  }
  out.push_back('"');
}

}  // namespace

result<value> parse_json(std::string_view text) {
  // The text is parsed in place, in a NUL-terminated copy (the record's bytes
  // are not terminated): strings and numbers reach the builder where they
  // lie instead of through the reader's stack. A NUL byte in the text ends
  // the document exactly as the end of the text does. RapidJSON 1.1.0's SSE2
  // string scan stays off: it lets raw bytes 0x1a-0x1f through. The copy,
  // the reader's stack and the builder's scratch keep their capacity between
  // records (one set per thread).
  thread_local std::string copy;
  thread_local rapidjson::Reader reader;
  thread_local value_builder::scratch scratch;
  copy.assign(text);
  copy.push_back('\0');
  rapidjson::InsituStringStream ms(copy.data());
  value_builder builder(scratch);
  auto ok = reader.Parse<rapidjson::kParseInsituFlag | rapidjson::kParseStopWhenDoneFlag |
                         rapidjson::kParseNumbersAsStringsFlag>(ms, builder);
  if (ok.IsError() && !builder.bad_number().empty()) {
    return error{errc::invalid_json, "number out of range: " + builder.bad_number().substr(0, 40)};
  }
  if (ok.IsError()) {
    return error{errc::invalid_json, std::string(rapidjson::GetParseError_En(ok.Code())) +
                                         " at offset " + std::to_string(ok.Offset())};
  }
  // Only whitespace may follow the document.
  for (std::size_t i = ms.Tell(); i < text.size(); ++i) {
    char c = text[i];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
      return error{errc::invalid_json,
                   "unexpected data after the JSON value at offset " + std::to_string(i)};
    }
  }
  return builder.take();
}

void write_json_number(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[32];
  if (d == std::trunc(d) && std::fabs(d) < 9007199254740992.0) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<long long>(d));
    out.append(buf, r.ptr);
    return;
  }
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

void write_json(const value& v, std::string& out) {
  switch (v.type()) {
    case value::kind::null:
      out += "null";
      break;
    case value::kind::boolean:
      out += v.as_bool() ? "true" : "false";
      break;
    case value::kind::number:
      write_json_number(v.as_number(), out);
      break;
    case value::kind::string:
      write_string(v.as_string(), out);
      break;
    case value::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.as_array()) {
        if (!first) out.push_back(',');
        first = false;
        write_json(e, out);
      }
      out.push_back(']');
      break;
    }
    case value::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& m : v.as_object()) {
        if (!first) out.push_back(',');
        first = false;
        write_string(m.key, out);
        out.push_back(':');
        write_json(m.val, out);
      }
      out.push_back('}');
      break;
    }
  }
}

std::string to_json(const value& v) {
  std::string out;
  write_json(v, out);
  return out;
}

}  // namespace weir::core
