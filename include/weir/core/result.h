#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace weir::core {

// The bounded set of error codes. Record-level codes double as metric labels,
// so a new code is a new label value: keep the set small and stable.
enum class errc {
  invalid_json,    // a record value is not valid JSON (or not a JSON object)
  missing_field,   // a required field (such as the event time) is absent or null
  type_error,      // an expression met a value of the wrong type at run time
  invalid_time,    // an event-time field could not be read in its declared format
  table_miss,      // an enrich step with on_miss: dead_letter found no row for the key
  invalid_config,  // a pipeline file or flag is wrong
  kafka,           // the broker or client library failed
  aborted,         // a Kafka transaction was aborted (abortable error): its work is redone
  state,           // the state store failed
  io,              // a file or socket failed
  internal,        // a broken invariant; never caused by user input
};

// Name of a code as used in metric labels and dead-letter headers.
const char* errc_name(errc code) noexcept;

struct error {
  errc code;
  std::string message;
};

// A value or an error. Expected failures travel as values; exceptions never
// cross a step or a task.
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  result(error err) : v_(std::in_place_index<1>, std::move(err)) {}  // NOLINT: implicit by design

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const error& err() const& {
    assert(!ok());
    return std::get<1>(v_);
  }
  error&& err() && {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, error> v_;
};

// result<void>: success or an error.
class [[nodiscard]] status {
 public:
  status() = default;
  status(error err) : err_(std::move(err)), ok_(false) {}  // NOLINT: implicit by design
  bool ok() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const error& err() const& {
    assert(!ok_);
    return err_;
  }

 private:
  error err_{errc::internal, {}};
  bool ok_ = true;
};

}  // namespace weir::core
