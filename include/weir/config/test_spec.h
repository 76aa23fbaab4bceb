#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "weir/config/diagnostics.h"
#include "weir/config/node.h"
#include "weir/config/pipeline.h"
#include "weir/core/record.h"
#include "weir/core/time.h"
#include "weir/core/value.h"

namespace weir::config {

// The inline `tests:` of a pipeline file (DESIGN.md section 2.2), read and
// validated: what `weir test` feeds a pipeline and what it expects back.
// Immutable once parsed; owns every byte the driver hands to a task.

// A YAML node as a JSON value: unquoted integers and floats are numbers,
// unquoted `true`/`false` booleans, `null`/`~`/empty null, every other scalar
// (quoted or not) a string; maps keep their key order.
core::value to_value(const node& n);

// One record fed to the pipeline, as if consumed from the source topic.
struct test_input {
  mark at;
  std::optional<std::string> key;    // nullopt: no key
  std::optional<std::string> value;  // the bytes; nullopt: no value (a tombstone)
  core::millis timestamp = 0;        // the Kafka record timestamp
  std::int32_t partition = 0;
  std::vector<core::header> headers;
};

// One record the pipeline must write. The value is always compared; the other
// fields only when the test gives them.
struct test_expectation {
  mark at;
  core::value value;
  // A string is compared with the key's bytes; null means "no key"; numbers,
  // booleans, lists and maps are compared with the key read as JSON.
  std::optional<core::value> key;
  std::optional<core::millis> timestamp;
  // The given headers must be present with these values, in this order among
  // themselves; other headers may be present too.
  std::optional<std::vector<core::header>> headers;
  bool raw = false;  // value is the record's exact bytes (a string), not JSON
  // `expect` only: the sink topic the record must be written to. Required
  // when the pipeline has several sink topics; otherwise set to the only one.
  std::string topic;
};

// One step of a test, in order.
struct feed_records {
  std::vector<test_input> records;
};
struct advance_time {
  core::millis by = 0;  // wall-clock time to let pass
};
struct advance_watermark_to {
  core::millis to = 0;  // event time every partition's watermark is raised to
};
// Rows put into (or, with a null value, removed from) declared tables, as
// if the table's topic or file had changed: `tables: {NAME: [{key, value}]}`.
struct table_row {
  mark at;
  std::string key;
  std::optional<core::value> value;  // an object; nullopt removes the row
};
struct set_table_rows {
  std::vector<std::pair<std::string, std::vector<table_row>>> tables;  // by table, in file order
};
struct test_action {
  mark at;
  std::variant<feed_records, advance_time, advance_watermark_to, set_table_rows> what;
};

struct test_case {
  std::string name;
  mark at;
  std::vector<test_action> actions;
  std::vector<test_expectation> expect;  // the sink topics, in order within each topic
  std::optional<std::vector<test_expectation>> expect_late;  // the late topics, in order
  mark expect_late_at;
  // The dead-letter topic, in order; headers weir.error.* are compared when given.
  std::optional<std::vector<test_expectation>> expect_dead_letter;
};

// Topics that the pipeline's steps write late records to (`late: {topic: X}`
// in a step), in step order and without duplicates.
std::vector<std::string> late_topics(const pipeline_spec& spec);

// Reads `spec.tests` (none when the file has no `tests:`). Every problem goes
// to `diag` with its position; the cases are usable only when there was none.
std::vector<test_case> parse_tests(const pipeline_spec& spec, diagnostics& diag);

}  // namespace weir::config
