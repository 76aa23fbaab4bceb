#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "weir/config/pipeline.h"
#include "weir/core/result.h"
#include "weir/core/value.h"

namespace weir::tables {

// The rows of a table held in memory: key text (expr::table_key of the key
// value) → row, a JSON object. Immutable once built; shared by readers.
using row_map = std::unordered_map<std::string, core::value>;

// CSV with a header row (RFC 4180: comma-separated, fields in double quotes
// may hold commas, newlines and doubled quotes, CRLF or LF line ends). Each
// row becomes an object with the header's names in order; an unquoted field
// that reads as a JSON number (no leading zeros, so `007` stays text) is a
// number, an empty unquoted field null, anything else a string. Rows are
// keyed by `key_column`; a later row with the same key replaces an earlier
// one. A problem is errc::invalid_config with "FILE:LINE: message".
core::result<row_map> parse_csv(std::string_view text, std::string_view key_column,
                                const std::string& file);

// JSON Lines: one JSON object per non-blank line, keyed by `key_field` (a
// dotted path such as `id` or `device.id`).
core::result<row_map> parse_jsonl(std::string_view text, std::string_view key_field,
                                  const std::string& file);

// Reads the file of a file table (spec.path) and parses it by its format.
// A file that cannot be read is errc::io.
core::result<row_map> load_file(const config::table_spec& spec);

// The value at dotted `path` of object `v`, or nullptr.
const core::value* field_at(const core::value& v, std::string_view path);

}  // namespace weir::tables
