#include "weir/core/json.h"

#include <charconv>
#include <cmath>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace weir::core {
namespace {

// Builds a value straight from RapidJSON's SAX events, so no intermediate DOM
// is allocated. The stack holds the containers being filled.
class value_builder : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, value_builder> {
 public:
  bool Null() { return put(value{}); }
  bool Bool(bool b) { return put(value{b}); }
  bool Int(int i) { return put(value{static_cast<double>(i)}); }
  bool Uint(unsigned u) { return put(value{static_cast<double>(u)}); }
  bool Int64(int64_t i) { return put(value{static_cast<double>(i)}); }
  bool Uint64(uint64_t u) { return put(value{static_cast<double>(u)}); }
  bool Double(double d) { return put(value{d}); }
  // Numbers arrive as text (kParseNumbersAsStringsFlag) and are converted
  // here, exactly and without the parser's own floating-point code.
  bool RawNumber(const char* s, rapidjson::SizeType n, bool) {
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
    stack_.push_back(frame{value{value::object_type{}}, {}});
    return true;
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    stack_.back().key.assign(s, n);
    return true;
  }
  bool EndObject(rapidjson::SizeType) { return close(); }
  bool StartArray() {
    stack_.push_back(frame{value{value::array_type{}}, {}});
    return true;
  }
  bool EndArray(rapidjson::SizeType) { return close(); }

  value take() { return std::move(root_); }

 private:
  struct frame {
    value container;
    std::string key;
  };
  bool put(value v) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    auto& top = stack_.back();
    if (top.container.is_array()) {
      top.container.as_array().push_back(std::move(v));
    } else {
      // Duplicate keys: the last one wins, as in most JSON readers.
      top.container.set(top.key, std::move(v));
    }
    return true;
  }
  bool close() {
    value done = std::move(stack_.back().container);
    stack_.pop_back();
    return put(std::move(done));
  }
  std::vector<frame> stack_;
  value root_;
  std::string bad_number_;
};

void write_string(std::string_view s, std::string& out) {
  static constexpr char hex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
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
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(hex[c >> 4]);
          out.push_back(hex[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

}  // namespace

result<value> parse_json(std::string_view text) {
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::Reader reader;
  value_builder builder;
  auto ok = reader.Parse<rapidjson::kParseStopWhenDoneFlag | rapidjson::kParseNumbersAsStringsFlag>(
      ms, builder);
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
