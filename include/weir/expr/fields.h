#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::expr {

// What an expression reads from a record, as far as its text shows: for
// load-time checks that need to know which fields a key or condition
// depends on (partitioning, fields that cannot exist).
struct field_reads {
  struct field {
    std::string name;        // a top-level field of the record value
    std::size_t offset = 0;  // where it is written in the source
  };
  std::vector<field> fields;     // in source order, repeats included
  bool whole_value = false;      // reads `$value`: any field
  bool record_key = false;       // reads `$key`
  bool only_record_key = false;  // the expression is exactly `$key`
};

// The reads of `source`; nullopt when it does not parse (compile reports that).
std::optional<field_reads> reads_of(std::string_view source);

}  // namespace weir::expr
