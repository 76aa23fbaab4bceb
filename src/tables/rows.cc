#include "weir/tables/rows.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "weir/core/json.h"
#include "weir/expr/table.h"

namespace weir::tables {
namespace {

core::error at_line(const std::string& file, int line, const std::string& message) {
  return core::error{core::errc::invalid_config,
                     file + ":" + std::to_string(line) + ": " + message};
}

// JSON number syntax without leading zeros: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?
bool json_number_text(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size()) return false;
  if (s[i] == '0') {
    ++i;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  } else {
    return false;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == from) return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == from) return false;
  }
  return i == s.size();
}

core::value typed(std::string&& text, bool quoted) {
  if (quoted) return core::value{std::move(text)};
  if (text.empty()) return core::value{};
  if (json_number_text(text)) {
    double d = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), d);
    if (ec == std::errc() && p == text.data() + text.size() && std::isfinite(d)) {
      return core::value{d};
    }
  }
  return core::value{std::move(text)};
}

struct csv_field {
  std::string text;
  bool quoted = false;
};

// Reads CSV records one at a time, counting lines (a quoted field may span
// several).
class csv_reader {
 public:
  csv_reader(std::string_view text, const std::string& file) : text_(text), file_(file) {
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;  // a UTF-8 byte order mark
  }

  bool done() const noexcept { return pos_ >= text_.size(); }
  int line() const noexcept { return line_; }

  // The next record into `out`; false at the end. Blank lines are skipped.
  core::result<bool> next(std::vector<csv_field>& out, int& record_line) {
    out.clear();
    while (pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
      if (text_[pos_] == '\n') ++line_;
      ++pos_;
    }
    if (pos_ >= text_.size()) return false;
    record_line = line_;
    csv_field f;
    while (true) {
      if (pos_ < text_.size() && text_[pos_] == '"' && f.text.empty() && !f.quoted) {
        f.quoted = true;
        const int opened = line_;
        ++pos_;
        while (true) {
          if (pos_ >= text_.size()) {
            return at_line(file_, opened, "a quoted field is not closed");
          }
          char c = text_[pos_++];
          if (c == '"') {
            if (pos_ < text_.size() && text_[pos_] == '"') {
              f.text.push_back('"');
              ++pos_;
              continue;
            }
            break;
          }
          if (c == '\n') ++line_;
          f.text.push_back(c);
        }
        if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
            text_[pos_] != '\r') {
          return at_line(file_, line_, "unexpected text after a closing quote");
        }
      }
      if (pos_ >= text_.size() || text_[pos_] == '\n' || text_[pos_] == '\r') {
        out.push_back(std::move(f));
        if (pos_ < text_.size() && text_[pos_] == '\r') ++pos_;
        if (pos_ < text_.size() && text_[pos_] == '\n') {
          ++pos_;
          ++line_;
        }
        return true;
      }
      char c = text_[pos_++];
      if (c == ',') {
        out.push_back(std::move(f));
        f = csv_field{};
      } else if (c == '"') {
        return at_line(file_, line_, "a quote inside an unquoted field (quote the whole field)");
      } else {
        if (f.quoted) return at_line(file_, line_, "unexpected text after a closing quote");
        f.text.push_back(c);
      }
    }
  }

 private:
  std::string_view text_;
  const std::string& file_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

}  // namespace

const core::value* field_at(const core::value& v, std::string_view path) {
  const core::value* cur = &v;
  while (cur) {
    std::size_t dot = path.find('.');
    cur = cur->find(path.substr(0, dot));
    if (dot == std::string_view::npos) return cur;
    path.remove_prefix(dot + 1);
  }
  return nullptr;
}

core::result<row_map> parse_csv(std::string_view text, std::string_view key_column,
                                const std::string& file) {
  csv_reader in(text, file);
  std::vector<csv_field> fields;
  int line = 1;
  auto header = in.next(fields, line);
  if (!header) return std::move(header).err();
  if (!*header) return at_line(file, 1, "the file is empty: a CSV table needs a header row");
  std::vector<std::string> names;
  std::size_t key_index = fields.size();
  for (std::size_t i = 0; i < fields.size(); ++i) {
    auto& name = fields[i].text;
    if (name.empty())
      return at_line(file, line, "column " + std::to_string(i + 1) + " has no name");
    for (const auto& n : names) {
      if (n == name) return at_line(file, line, "duplicate column '" + name + "'");
    }
    if (name == key_column) key_index = i;
    names.push_back(std::move(name));
  }
  if (key_index == names.size()) {
    return at_line(file, line, "no column '" + std::string(key_column) + "' (the table's key)");
  }
  row_map rows;
  std::string buf;
  while (true) {
    auto more = in.next(fields, line);
    if (!more) return std::move(more).err();
    if (!*more) break;
    if (fields.size() != names.size()) {
      return at_line(file, line,
                     "expected " + std::to_string(names.size()) + " fields, found " +
                         std::to_string(fields.size()));
    }
    core::value::object_type row;
    row.reserve(names.size());
    for (std::size_t i = 0; i < names.size(); ++i) {
      row.push_back({names[i], typed(std::move(fields[i].text), fields[i].quoted)});
    }
    auto key = expr::table_key(row[key_index].val, buf);
    if (!key || key->empty()) {
      return at_line(file, line, "empty key in column '" + std::string(key_column) + "'");
    }
    std::string k(*key);
    rows.insert_or_assign(std::move(k), core::value{std::move(row)});
  }
  return rows;
}

core::result<row_map> parse_jsonl(std::string_view text, std::string_view key_field,
                                  const std::string& file) {
  row_map rows;
  std::string buf;
  int line = 0;
  std::size_t pos = 0;
  if (text.starts_with("\xEF\xBB\xBF")) pos = 3;
  while (pos < text.size()) {
    ++line;
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view l = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (l.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    auto v = core::parse_json(l);
    if (!v) return at_line(file, line, v.err().message);
    if (!v->is_object()) {
      return at_line(
          file, line,
          std::string("a line must be a JSON object, found ") + core::kind_name(v->type()));
    }
    const core::value* k = field_at(*v, key_field);
    auto key = k ? expr::table_key(*k, buf) : std::nullopt;
    if (!key || key->empty()) {
      return at_line(file, line,
                     "no key: field '" + std::string(key_field) + "' is missing or null");
    }
    std::string owned(*key);
    rows.insert_or_assign(std::move(owned), std::move(*v));
  }
  return rows;
}

core::result<row_map> load_file(const config::table_spec& spec) {
  std::ifstream in(spec.path, std::ios::binary);
  if (!in) {
    return core::error{core::errc::io, "table '" + spec.name + "': cannot read " + spec.path};
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    return core::error{core::errc::io, "table '" + spec.name + "': cannot read " + spec.path};
  }
  const std::string text = buf.str();
  const std::string key = spec.key.value_or("");
  if (spec.file_format == config::table_file_format::csv) return parse_csv(text, key, spec.path);
  return parse_jsonl(text, key, spec.path);
}

}  // namespace weir::tables
