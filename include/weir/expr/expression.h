#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "weir/core/record.h"
#include "weir/core/result.h"
#include "weir/core/value.h"
#include "weir/expr/table.h"

namespace weir::expr {

// What an expression reads when evaluated: the record's decoded payload and,
// for records that came from Kafka, their metadata ($key, $timestamp, $topic,
// $partition, $offset, $headers.NAME). Derived records (window results) have
// no metadata: those paths are null there.
struct scope {
  const core::value* value = nullptr;
  const core::record_view* meta = nullptr;
};

// A problem found while compiling, with its byte offset in the source text so
// that callers can point at it (FILE:LINE:COL).
struct syntax_error {
  std::size_t offset = 0;
  std::string message;
};

// The static type of an expression, as far as it can be seen at load time.
enum class type : std::uint8_t { any, null, boolean, number, string, array, object };

struct node;
struct call;

// A compiled expression: immutable after compile, cheap to copy, safe to
// evaluate from several threads at once.
class expression {
 public:
  // Parses and type-checks `source` (DESIGN.md section 2.3). `lookup("t", k)`
  // calls are bound to table `t` of `tables`, which must outlive the
  // expression; without `tables` every lookup is an unknown table.
  static std::variant<expression, syntax_error> compile(std::string_view source,
                                                        const table_catalog* tables = nullptr);

  // Evaluates against a record. Missing fields are null; arithmetic on null is
  // null; a runtime type error is errc::type_error with a readable message.
  core::result<core::value> eval(const scope& s) const;

  // Like eval, without copying the result: it points into the record, into
  // the expression or at `scratch`, and stays valid while those do and are
  // not modified. What filters and keys use on the hot path.
  core::result<const core::value*> eval_ref(const scope& s, core::value& scratch) const;

  // Evaluates as a condition (filter): true only for boolean true; null is
  // false; any other non-boolean is errc::type_error.
  core::result<bool> test(const scope& s) const;

  const std::string& source() const noexcept { return source_; }
  type static_type() const noexcept;

  // For a plain field path (`a`, `a.b`, `a["odd key"]`), the path as written
  // in its canonical dotted form ("a.b", "a.odd key"); otherwise nullopt
  // (array indexes, metadata, anything computed).
  std::optional<std::string> path_name() const;

 private:
  friend std::variant<call, syntax_error> compile_call(std::string_view source,
                                                       const table_catalog* tables);

  expression(std::shared_ptr<const node> root, std::string source)
      : root_(std::move(root)), source_(std::move(source)) {}
  std::shared_ptr<const node> root_;
  std::string source_;
};

// A call at the top level of an expression, `name(arg, ...)`, with its
// arguments compiled: how aggregates (`count()`, `sum(amount)`) are written.
struct call {
  std::string name;
  std::vector<expression> args;
  std::vector<std::size_t> arg_offsets;  // offset of each argument in the source
};
std::variant<call, syntax_error> compile_call(std::string_view source,
                                              const table_catalog* tables = nullptr);

}  // namespace weir::expr
