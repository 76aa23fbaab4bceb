#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/config/diagnostics.h"
#include "weir/config/node.h"
#include "weir/core/time.h"

namespace weir::config {

// The sections of a pipeline file that are not steps, read and validated
// (DESIGN.md section 2.2). Steps are kept as nodes: each step kind parses its
// own body in ops/, beside its implementation.

enum class time_format : std::uint8_t { epoch_ms, epoch_s, iso8601 };
enum class guarantee : std::uint8_t { at_least_once, exactly_once };

struct event_time_spec {
  std::string field;  // a path such as `ts` or `meta.time`
  mark field_at;
  time_format format = time_format::epoch_ms;
};

struct source_spec {
  std::vector<std::string> topics;
  mark at;
  std::vector<std::string> partitioned_by;    // field paths
  std::optional<event_time_spec> event_time;  // nullopt: the Kafka timestamp
  core::millis max_out_of_orderness = 0;
  core::millis idle_timeout = 30'000;  // 0: off
};

struct step_spec {
  std::string kind;               // filter, window, ...
  std::optional<std::string> id;  // required for stateful steps
  std::string name;               // id, or "<kind>-<position>" for metrics
  mark at;                        // the step's entry in the list
  const node* body = nullptr;     // the value under the kind key
  const node* entry = nullptr;    // the whole step map
};

// Where results go: `sink: {topic, key}`, or one entry of `sinks:`. A record
// goes to the first sink whose `when` holds; a sink without `when` takes
// every record and is always the last.
struct sink_spec {
  std::string topic;
  mark at;
  const node* key = nullptr;   // expression; nullptr: the default key
  const node* when = nullptr;  // condition; nullptr: every record
};

// What happens to a record that fails (invalid JSON, no event time, a runtime
// type error): DESIGN.md section 2.2 `errors`.
enum class on_error : std::uint8_t { dead_letter, skip, fail };
struct errors_spec {
  std::optional<std::string> dead_letter_topic;
  on_error policy = on_error::skip;  // dead_letter when a topic is set
};

// A table of reference data (DESIGN.md section 2.2 `tables`): the latest row
// per key of a compacted topic, or the rows of a CSV or JSON Lines file.
enum class table_source : std::uint8_t { topic, file };
enum class table_file_format : std::uint8_t { csv, jsonl };
struct table_spec {
  std::string name;
  mark at;  // the table's name in `tables:`
  table_source source = table_source::topic;
  // topic: the topic; rows keyed by the record key, or by `key` of the value.
  std::string topic;
  // topic: a field of the value (optional); file: the key column (required).
  std::optional<std::string> key;
  mark key_at;
  std::string file;  // as written
  std::string path;  // `file` resolved against the pipeline file's directory
  table_file_format file_format = table_file_format::csv;
};

struct processing_spec {
  core::millis commit_interval = 1000;
  guarantee delivery = guarantee::at_least_once;
};

struct pipeline_spec {
  std::string file;
  std::string name;
  mark name_at;
  std::string description;
  source_spec source;
  std::vector<table_spec> tables;
  std::vector<step_spec> steps;
  // `sink:` gives one, `sinks:` one or more, in routing order; never empty
  // once loaded without problems.
  std::vector<sink_spec> sinks;
  bool routed = false;  // written as `sinks:`
  processing_spec processing;
  errors_spec errors;
  const node* tests = nullptr;  // inline test cases, read by config/test_spec.h
  const table_spec* find_table(std::string_view name) const noexcept;
  // The distinct sink topics, in the order of `sinks`.
  std::vector<std::string> sink_topics() const;
  // Whether a record can match no sink (the last sink has a `when`).
  bool may_drop_unrouted() const noexcept { return !sinks.empty() && sinks.back().when; }
  std::shared_ptr<const node> root;  // owns the nodes the step specs point into
};

// Reads `text` as YAML into nodes, interpolating ${VAR}, ${VAR:-default} and
// ${VAR:?message} from the environment. Problems go to `diag`.
std::shared_ptr<const node> parse_yaml(const std::string& text, diagnostics& diag);

// Loads and validates the non-step sections of a pipeline file. Returns
// nullopt when the file could not be read as YAML at all; otherwise a spec,
// with any problems in `diag`.
std::optional<pipeline_spec> load_pipeline(const std::string& path, diagnostics& diag);
std::optional<pipeline_spec> load_pipeline_text(const std::string& text, diagnostics& diag);

}  // namespace weir::config
