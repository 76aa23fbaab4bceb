#include "expr/lexer.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

namespace weir::expr {
namespace {

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_ident_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_ident_char(char c) noexcept {
  return is_ident_start(c) || is_digit(c);
}

int hex_digit(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

struct keyword {
  std::string_view text;
  token_kind kind;
};
constexpr keyword keywords[] = {
    {"and", token_kind::kw_and},   {"or", token_kind::kw_or},     {"not", token_kind::kw_not},
    {"in", token_kind::kw_in},     {"true", token_kind::kw_true}, {"false", token_kind::kw_false},
    {"null", token_kind::kw_null},
};

// Scans one expression left to right and stops at the first error. One per
// tokenize call, on the compiling thread.
class lexer {
 public:
  explicit lexer(std::string_view src) : src_(src) {}

  std::variant<std::vector<token>, syntax_error> run() {
    std::vector<token> out;
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) ++pos_;
      token t;
      t.offset = pos_;
      if (pos_ == src_.size()) {
        out.push_back(std::move(t));
        return out;
      }
      if (!scan(t)) return std::move(*error_);
      t.length = pos_ - t.offset;
      out.push_back(std::move(t));
    }
  }

 private:
  static bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  }

  bool fail(std::size_t offset, std::string message) {
    error_ = syntax_error{offset, std::move(message)};
    return false;
  }

  char peek(std::size_t ahead = 0) const noexcept {
    return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0';
  }

  bool scan(token& t) {
    const char c = src_[pos_];
    if (is_digit(c)) return scan_number(t);
    if (c == '"' || c == '\'') return scan_string(t);
    if (is_ident_start(c)) {
      scan_identifier(t);
      return true;
    }
    if (c == '$') {
      ++pos_;
      if (!is_ident_start(peek())) return fail(t.offset, "expected a metadata name after '$'");
      scan_identifier(t);
      t.kind = token_kind::metadata;
      return true;
    }
    return scan_punctuation(t);
  }

  void scan_identifier(token& t) {
    const std::size_t begin = pos_;
    while (pos_ < src_.size() && is_ident_char(src_[pos_])) ++pos_;
    t.text = std::string(src_.substr(begin, pos_ - begin));
    t.kind = token_kind::identifier;
    for (const auto& k : keywords) {
      if (k.text == t.text) t.kind = k.kind;
    }
  }

  bool scan_number(token& t) {
    const std::size_t begin = pos_;
    while (is_digit(peek())) ++pos_;
    if (peek() == '.' && is_digit(peek(1))) {
      ++pos_;
      while (is_digit(peek())) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      std::size_t exp = pos_ + 1;
      if (exp < src_.size() && (src_[exp] == '+' || src_[exp] == '-')) ++exp;
      if (exp >= src_.size() || !is_digit(src_[exp])) {
        return fail(pos_, "expected digits after the exponent 'e'");
      }
      pos_ = exp;
      while (is_digit(peek())) ++pos_;
    }
    if (peek() == '.') return fail(pos_, "expected a digit after '.'");
    if (is_ident_char(peek())) {
      return fail(pos_, std::string("unexpected '") + peek() + "' after a number");
    }
    const char* first = src_.data() + begin;
    const char* last = src_.data() + pos_;
    auto [ptr, ec] = std::from_chars(first, last, t.number);
    if (ec != std::errc() || ptr != last || !std::isfinite(t.number)) {
      return fail(begin, "number out of range");
    }
    t.kind = token_kind::number;
    return true;
  }

  bool scan_string(token& t) {
    const char quote = src_[pos_++];
    std::string out;
    while (true) {
      if (pos_ >= src_.size()) return fail(t.offset, "unterminated string");
      const char c = src_[pos_];
      if (c == quote) {
        ++pos_;
        break;
      }
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      const std::size_t escape_at = pos_;
      ++pos_;
      if (pos_ >= src_.size()) return fail(t.offset, "unterminated string");
      const char e = src_[pos_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\'':
          out.push_back('\'');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!read_hex4(escape_at, cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            std::uint32_t low = 0;
            if (peek() != '\\' || peek(1) != 'u') {
              return fail(escape_at, "unpaired surrogate in '\\u' escape");
            }
            pos_ += 2;
            if (!read_hex4(escape_at, low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) {
              return fail(escape_at, "unpaired surrogate in '\\u' escape");
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return fail(escape_at, "unpaired surrogate in '\\u' escape");
          }
          append_utf8(cp, out);
          break;
        }
        default:
          return fail(escape_at, std::string("invalid escape '\\") + e + "'");
      }
    }
    t.kind = token_kind::string;
    t.text = std::move(out);
    return true;
  }

  bool read_hex4(std::size_t escape_at, std::uint32_t& cp) {
    for (int i = 0; i < 4; ++i) {
      const int d = hex_digit(peek());
      if (d < 0) return fail(escape_at, "expected four hex digits after '\\u'");
      cp = cp * 16 + static_cast<std::uint32_t>(d);
      ++pos_;
    }
    return true;
  }

  bool scan_punctuation(token& t) {
    const char c = src_[pos_];
    const char n = peek(1);
    auto one = [&](token_kind k) {
      t.kind = k;
      pos_ += 1;
      return true;
    };
    auto two = [&](token_kind k) {
      t.kind = k;
      pos_ += 2;
      return true;
    };
    switch (c) {
      case '(':
        return one(token_kind::lparen);
      case ')':
        return one(token_kind::rparen);
      case '[':
        return one(token_kind::lbracket);
      case ']':
        return one(token_kind::rbracket);
      case ',':
        return one(token_kind::comma);
      case '.':
        return one(token_kind::dot);
      case '+':
        return one(token_kind::plus);
      case '-':
        return one(token_kind::minus);
      case '*':
        return one(token_kind::star);
      case '/':
        return one(token_kind::slash);
      case '%':
        return one(token_kind::percent);
      case '<':
        return n == '=' ? two(token_kind::le) : one(token_kind::lt);
      case '>':
        return n == '=' ? two(token_kind::ge) : one(token_kind::gt);
      case '=':
        if (n == '=') return two(token_kind::eq);
        return fail(pos_, "unexpected '=' (use '==' to compare)");
      case '!':
        if (n == '=') return two(token_kind::ne);
        return fail(pos_, "unexpected '!' (use 'not')");
      case '?':
        if (n == '?') return two(token_kind::coalesce);
        return fail(pos_, "unexpected '?' (use '?\?' for the first non-null value)");
      case '&':
        return fail(pos_, "unexpected '&' (use 'and')");
      case '|':
        return fail(pos_, "unexpected '|' (use 'or')");
      default:
        break;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7F)
      return fail(pos_, std::string("unexpected character '") + c + "'");
    char buf[8];
    std::snprintf(buf, sizeof buf, "0x%02X", byte);
    return fail(pos_, std::string("unexpected byte ") + buf);
  }

  std::string_view src_;
  std::size_t pos_ = 0;
  std::optional<syntax_error> error_;
};

}  // namespace

std::variant<std::vector<token>, syntax_error> tokenize(std::string_view source) {
  return lexer(source).run();
}

bool is_keyword(token_kind k) noexcept {
  return k >= token_kind::kw_and && k <= token_kind::kw_null;
}

}  // namespace weir::expr
