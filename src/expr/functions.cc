#include "expr/functions.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include "expr/lookup.h"
#include "expr/regex.h"
#include "expr/time_format.h"
#include "weir/core/json.h"
#include "weir/core/time.h"

namespace weir::expr {
namespace {

using args_t = std::span<const core::value* const>;

constexpr type_mask str = mask_of(type::string);
constexpr type_mask num = mask_of(type::number);
constexpr type_mask boolean = mask_of(type::boolean);

template <type T>
type fixed(std::span<const type>) {
  return T;
}

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim_view(std::string_view s) noexcept {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Strings are UTF-8; positions and lengths count code points, found by
// skipping continuation bytes (so malformed input still yields a count).
bool is_continuation(char c) noexcept {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

std::size_t code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (char c : s) n += !is_continuation(c);
  return n;
}

// Byte offset of code point `index` (or s.size() past the end).
std::size_t byte_offset(std::string_view s, std::size_t index) noexcept {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (is_continuation(s[i])) continue;
    if (seen == index) return i;
    ++seen;
  }
  return s.size();
}

std::string format_number(double d) {
  std::string out;
  core::write_json_number(d, out);
  return out;
}

// An integral argument, clamped to +-2^53; an error for fractions.
core::result<std::int64_t> integer_arg(const function_def& f, std::size_t index, double d) {
  if (d != std::trunc(d)) {
    return type_error("function '" + std::string(f.name) + "' needs an integer as argument " +
                      std::to_string(index + 1) + ", got " + format_number(d));
  }
  constexpr double limit = 9007199254740992.0;
  return static_cast<std::int64_t>(std::fmax(-limit, std::fmin(limit, d)));
}

core::status set_number(double d, core::value& out) {
  out = std::isfinite(d) ? core::value(d) : core::value();
  return {};
}

core::status fn_lower(const function_def&, args_t a, core::value& out) {
  std::string s = a[0]->as_string();
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  out = std::move(s);
  return {};
}

core::status fn_upper(const function_def&, args_t a, core::value& out) {
  std::string s = a[0]->as_string();
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  out = std::move(s);
  return {};
}

core::status fn_trim(const function_def&, args_t a, core::value& out) {
  out = trim_view(a[0]->as_string());
  return {};
}

core::status fn_len(const function_def&, args_t a, core::value& out) {
  const core::value& v = *a[0];
  std::size_t n = 0;
  if (v.is_string()) n = code_points(v.as_string());
  if (v.is_array()) n = v.as_array().size();
  if (v.is_object()) n = v.as_object().size();
  out = static_cast<double>(n);
  return {};
}

core::status fn_contains(const function_def&, args_t a, core::value& out) {
  out = a[0]->as_string().find(a[1]->as_string()) != std::string::npos;
  return {};
}

core::status fn_starts_with(const function_def&, args_t a, core::value& out) {
  out = a[0]->as_string().starts_with(a[1]->as_string());
  return {};
}

core::status fn_ends_with(const function_def&, args_t a, core::value& out) {
  out = a[0]->as_string().ends_with(a[1]->as_string());
  return {};
}

core::status fn_substr(const function_def& f, args_t a, core::value& out) {
  const std::string& s = a[0]->as_string();
  const auto n = static_cast<std::int64_t>(code_points(s));
  auto start = integer_arg(f, 1, a[1]->as_number());
  if (!start) return std::move(start).err();
  std::int64_t from = *start < 0 ? *start + n : *start;
  from = std::max<std::int64_t>(0, std::min(from, n));
  std::int64_t to = n;
  if (a.size() > 2) {
    auto len = integer_arg(f, 2, a[2]->as_number());
    if (!len) return std::move(len).err();
    to = *len <= 0 ? from : std::min(n, from + *len);
  }
  const std::size_t b = byte_offset(s, static_cast<std::size_t>(from));
  const std::size_t e = byte_offset(s, static_cast<std::size_t>(to));
  out = std::string_view(s).substr(b, e - b);
  return {};
}

core::status fn_replace(const function_def&, args_t a, core::value& out) {
  const std::string& s = a[0]->as_string();
  const std::string& from = a[1]->as_string();
  const std::string& to = a[2]->as_string();
  if (from.empty()) {
    out = s;
    return {};
  }
  std::string r;
  std::size_t pos = 0;
  while (true) {
    const std::size_t hit = s.find(from, pos);
    if (hit == std::string::npos) break;
    r.append(s, pos, hit - pos);
    r += to;
    pos = hit + from.size();
  }
  r.append(s, pos, std::string::npos);
  out = std::move(r);
  return {};
}

void append_scalar(const core::value& v, std::string& out) {
  if (v.is_string()) out += v.as_string();
  if (v.is_number()) core::write_json_number(v.as_number(), out);
  if (v.is_bool()) out += v.as_bool() ? "true" : "false";
}

core::status fn_concat(const function_def&, args_t a, core::value& out) {
  std::string r;
  for (const auto* v : a) append_scalar(*v, r);
  out = std::move(r);
  return {};
}

core::status fn_to_number(const function_def&, args_t a, core::value& out) {
  const core::value& v = *a[0];
  if (v.is_number()) {
    out = v.as_number();
  } else if (v.is_bool()) {
    out = v.as_bool() ? 1.0 : 0.0;
  } else {
    const std::string_view s = trim_view(v.as_string());
    double d = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    const bool whole = !s.empty() && ec == std::errc() && ptr == s.data() + s.size();
    out = whole && std::isfinite(d) ? core::value(d) : core::value();
  }
  return {};
}

core::status fn_to_string(const function_def&, args_t a, core::value& out) {
  const core::value& v = *a[0];
  if (v.is_string()) {
    out = v.as_string();
  } else if (v.is_number() || v.is_bool()) {
    std::string r;
    append_scalar(v, r);
    out = std::move(r);
  } else {
    out = core::to_json(v);
  }
  return {};
}

core::status fn_abs(const function_def&, args_t a, core::value& out) {
  return set_number(std::fabs(a[0]->as_number()), out);
}

core::status fn_floor(const function_def&, args_t a, core::value& out) {
  return set_number(std::floor(a[0]->as_number()), out);
}

core::status fn_ceil(const function_def&, args_t a, core::value& out) {
  return set_number(std::ceil(a[0]->as_number()), out);
}

// Rounds x to `digits` decimals, half away from zero, on the shortest decimal
// form of x: round(2.675, 2) is 2.68 although the double is 2.67499999...
double round_decimal(double x, std::int64_t digits) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(x), std::chars_format::scientific);
  const std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
  const std::size_t e = s.find('e');
  std::string mantissa;
  for (char c : s.substr(0, e)) {
    if (c != '.') mantissa.push_back(c);
  }
  std::string_view exp_text = s.substr(e + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  int exp = 0;
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp);
  // mantissa[0] is the 10^exp digit; keep the digits down to 10^-digits.
  const std::int64_t keep = exp + 1 + digits;
  if (keep >= static_cast<std::int64_t>(mantissa.size())) return x;
  if (keep < 0) return 0.0;
  std::uint64_t kept = 0;
  for (std::int64_t i = 0; i < keep; ++i) {
    kept = kept * 10 + static_cast<std::uint64_t>(mantissa[static_cast<std::size_t>(i)] - '0');
  }
  if (mantissa[static_cast<std::size_t>(keep)] >= '5') ++kept;
  const std::string text = std::to_string(kept) + "e" + std::to_string(-digits);
  double out = 0;
  std::from_chars(text.data(), text.data() + text.size(), out);
  return x < 0 ? -out : out;
}

core::status fn_round(const function_def& f, args_t a, core::value& out) {
  std::int64_t digits = 0;
  if (a.size() > 1) {
    auto d = integer_arg(f, 1, a[1]->as_number());
    if (!d) return std::move(d).err();
    digits = std::max<std::int64_t>(-400, std::min<std::int64_t>(400, *d));
  }
  return set_number(round_decimal(a[0]->as_number(), digits), out);
}

// min and max: nulls are skipped; the rest must be all numbers or all strings.
template <bool Max>
core::status fn_extreme(const function_def& f, args_t a, core::value& out) {
  const core::value* best = nullptr;
  for (const auto* v : a) {
    if (v->is_null()) continue;
    if (!best) {
      best = v;
      continue;
    }
    if (v->type() != best->type()) {
      return type_error("function '" + std::string(f.name) + "' cannot compare " +
                        type_name(type_of(*best)) + " with " + type_name(type_of(*v)));
    }
    const bool less =
        v->is_number() ? v->as_number() < best->as_number() : v->as_string() < best->as_string();
    const bool greater =
        v->is_number() ? v->as_number() > best->as_number() : v->as_string() > best->as_string();
    if (Max ? greater : less) best = v;
  }
  out = best ? *best : core::value();
  return {};
}

type extreme_type(std::span<const type> args) {
  type t = type::null;
  for (type a : args) t = join(t, a);
  return t;
}

type if_type(std::span<const type> args) {
  return join(args[1], args[2]);
}

build_result build_if(const function_def&, type result, std::vector<node_ptr> args,
                      const compile_env&) {
  return std::make_unique<if_node>(result, std::move(args[0]), std::move(args[1]),
                                   std::move(args[2]));
}

build_result build_coalesce(const function_def&, type result, std::vector<node_ptr> args,
                            const compile_env&) {
  return std::make_unique<coalesce_node>(result, std::move(args));
}

core::status fn_now_ms(const function_def&, args_t, core::value& out) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  out = static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
  return {};
}

// The format argument of parse_time and format_time, checked when the call is
// compiled if it is a literal and on every record otherwise.
std::string check_format_literal(std::size_t index, const core::value& literal) {
  if (index != 1 || !literal.is_string()) return {};
  return check_time_format(literal.as_string());
}

core::status format_error(const function_def& f, const std::string& why) {
  return type_error("function '" + std::string(f.name) + "': " + why);
}

core::status fn_parse_time(const function_def& f, args_t a, core::value& out) {
  const std::string& text = a[0]->as_string();
  std::optional<core::millis> ms;
  if (a.size() > 1) {
    const std::string& format = a[1]->as_string();
    if (std::string why = check_time_format(format); !why.empty()) return format_error(f, why);
    ms = parse_time_with(text, format);
  } else if (auto r = core::parse_iso8601(text)) {
    ms = *r;
  }
  out = ms ? core::value(static_cast<double>(*ms)) : core::value();
  return {};
}

core::status fn_format_time(const function_def& f, args_t a, core::value& out) {
  const double d = std::floor(a[0]->as_number());
  if (d < static_cast<double>(min_formattable) || d > static_cast<double>(max_formattable)) {
    out = core::value();
    return {};
  }
  const auto ms = static_cast<core::millis>(d);
  if (a.size() == 1) {
    out = core::format_iso8601(ms);
    return {};
  }
  const std::string& format = a[1]->as_string();
  if (std::string why = check_time_format(format); !why.empty()) return format_error(f, why);
  std::string r;
  format_time_with(ms, format, r);
  out = std::move(r);
  return {};
}

// hash(x): 64-bit FNV-1a over the compact JSON text of x (core::write_json:
// members in their order, no spaces), masked to its low 53 bits so that it is
// exact as a number. Strings, the common case, are hashed without building
// their text.
constexpr std::uint64_t fnv_offset = 14695981039346656037ull;
constexpr std::uint64_t fnv_prime = 1099511628211ull;
constexpr std::uint64_t mask_53 = (std::uint64_t{1} << 53) - 1;

void fnv_byte(std::uint64_t& h, unsigned char c) noexcept {
  h ^= c;
  h *= fnv_prime;
}

void fnv_bytes(std::uint64_t& h, std::string_view s) noexcept {
  for (char c : s) fnv_byte(h, static_cast<unsigned char>(c));
}

// The bytes core::write_json writes for a string.
void fnv_json_string(std::uint64_t& h, std::string_view s) noexcept {
  static constexpr char hex[] = "0123456789abcdef";
  fnv_byte(h, '"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        fnv_bytes(h, "\\\"");
        break;
      case '\\':
        fnv_bytes(h, "\\\\");
        break;
      case '\n':
        fnv_bytes(h, "\\n");
        break;
      case '\r':
        fnv_bytes(h, "\\r");
        break;
      case '\t':
        fnv_bytes(h, "\\t");
        break;
      case '\b':
        fnv_bytes(h, "\\b");
        break;
      case '\f':
        fnv_bytes(h, "\\f");
        break;
      default:
        if (c < 0x20) {
          fnv_bytes(h, "\\u00");
          fnv_byte(h, static_cast<unsigned char>(hex[c >> 4]));
          fnv_byte(h, static_cast<unsigned char>(hex[c & 0xf]));
        } else {
          fnv_byte(h, c);
        }
    }
  }
  fnv_byte(h, '"');
}

core::status fn_hash(const function_def&, args_t a, core::value& out) {
  std::uint64_t h = fnv_offset;
  const core::value& v = *a[0];
  if (v.is_string()) {
    fnv_json_string(h, v.as_string());
  } else {
    std::string text;
    core::write_json(v, text);
    fnv_bytes(h, text);
  }
  out = static_cast<double>(h & mask_53);
  return {};
}

const function_def functions[] = {
    // name, arity, parameter types, null in -> null out, result type, eval, build
    {"lower", 1, 1, {str, str, str}, true, fixed<type::string>, fn_lower, nullptr},
    {"upper", 1, 1, {str, str, str}, true, fixed<type::string>, fn_upper, nullptr},
    {"trim", 1, 1, {str, str, str}, true, fixed<type::string>, fn_trim, nullptr},
    {"len",
     1,
     1,
     {str | mask_of(type::array) | mask_of(type::object), 0, 0},
     true,
     fixed<type::number>,
     fn_len,
     nullptr},
    {"contains", 2, 2, {str, str, str}, true, fixed<type::boolean>, fn_contains, nullptr},
    {"starts_with", 2, 2, {str, str, str}, true, fixed<type::boolean>, fn_starts_with, nullptr},
    {"ends_with", 2, 2, {str, str, str}, true, fixed<type::boolean>, fn_ends_with, nullptr},
    {"substr", 2, 3, {str, num, num}, true, fixed<type::string>, fn_substr, nullptr},
    {"replace", 3, 3, {str, str, str}, true, fixed<type::string>, fn_replace, nullptr},
    {"concat",
     1,
     unlimited_args,
     {mask_scalar, mask_scalar, mask_scalar},
     false,
     fixed<type::string>,
     fn_concat,
     nullptr},
    {"to_number", 1, 1, {mask_scalar, 0, 0}, true, fixed<type::number>, fn_to_number, nullptr},
    {"to_string", 1, 1, {mask_all, 0, 0}, true, fixed<type::string>, fn_to_string, nullptr},
    {"abs", 1, 1, {num, num, num}, true, fixed<type::number>, fn_abs, nullptr},
    {"round", 1, 2, {num, num, num}, true, fixed<type::number>, fn_round, nullptr},
    {"floor", 1, 1, {num, num, num}, true, fixed<type::number>, fn_floor, nullptr},
    {"ceil", 1, 1, {num, num, num}, true, fixed<type::number>, fn_ceil, nullptr},
    {"min",
     1,
     unlimited_args,
     {num | str, num | str, num | str},
     false,
     extreme_type,
     fn_extreme<false>,
     nullptr,
     true},
    {"max",
     1,
     unlimited_args,
     {num | str, num | str, num | str},
     false,
     extreme_type,
     fn_extreme<true>,
     nullptr,
     true},
    {"if", 3, 3, {boolean, mask_all, mask_all}, false, if_type, nullptr, build_if},
    {"coalesce",
     1,
     unlimited_args,
     {mask_all, mask_all, mask_all},
     false,
     extreme_type,
     nullptr,
     build_coalesce},
    {"matches",
     2,
     2,
     {str, str, str},
     true,
     fixed<type::boolean>,
     nullptr,
     build_matches,
     false,
     0b10},
    {"regex_extract",
     2,
     3,
     {str, str, num},
     true,
     fixed<type::string>,
     nullptr,
     build_regex_extract,
     false,
     0b10},
    {"regex_replace",
     3,
     3,
     {str, str, str},
     true,
     fixed<type::string>,
     nullptr,
     build_regex_replace,
     false,
     0b10},
    {"now_ms",
     0,
     0,
     {0, 0, 0},
     false,
     fixed<type::number>,
     fn_now_ms,
     nullptr,
     false,
     0,
     nullptr,
     false},
    {"parse_time",
     1,
     2,
     {str, str, str},
     true,
     fixed<type::number>,
     fn_parse_time,
     nullptr,
     false,
     0,
     check_format_literal},
    {"format_time",
     1,
     2,
     {num, str, str},
     true,
     fixed<type::string>,
     fn_format_time,
     nullptr,
     false,
     0,
     check_format_literal},
    {"hash", 1, 1, {mask_all, 0, 0}, true, fixed<type::number>, fn_hash, nullptr},
    {"lookup",
     2,
     2,
     {str, mask_all, mask_all},
     true,
     fixed<type::object>,
     nullptr,
     build_lookup,
     false,
     1,
     nullptr,
     false},
};

}  // namespace

const function_def* find_function(std::string_view name) noexcept {
  for (const auto& f : functions) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::string unknown_function_message(std::string_view name) {
  std::string out = "unknown function '" + std::string(name) + "'";
  return out;
}

core::status check_argument(const function_def& f, std::size_t index, const core::value& arg) {
  if (arg.is_null()) return {};
  const type t = type_of(arg);
  if ((f.param(index) & mask_of(t)) != 0) return {};
  return type_error(arg_message(f.name, index, f.max_args, f.param(index), t));
}

}  // namespace weir::expr
