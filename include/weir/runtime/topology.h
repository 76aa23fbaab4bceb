#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/config/pipeline.h"
#include "weir/expr/expression.h"
#include "weir/metrics/registry.h"
#include "weir/ops/step.h"
#include "weir/tables/table_set.h"

namespace weir::runtime {

// Counters of one pipeline, shared by its tasks (relaxed atomics).
struct pipeline_probe {
  metrics::counter* consumed = nullptr;
  metrics::counter* consumed_bytes = nullptr;
  // Records that matched no sink's `when`; null when the last sink takes every record.
  metrics::counter* unrouted = nullptr;
  metrics::histogram* checkpoint_seconds = nullptr;
  metrics::counter* checkpoint_failures = nullptr;
  // Records into and out of each step, by step index. Tasks count in plain
  // integers and add them here every tick (task::publish_metrics).
  std::vector<metrics::counter*> step_in;
  std::vector<metrics::counter*> step_out;
  // Wall clock at produce minus the result's event time, and minus the
  // Kafka timestamp of the input record being processed when it was made.
  metrics::histogram* latency_since_event_time = nullptr;
  metrics::histogram* latency_since_source_timestamp = nullptr;
  metrics::registry* registry = nullptr;  // for per-step error counters, made on first use
};

// One sink as the tasks write to it: its condition and key compiled, its
// topic's counters (shared by sinks with the same topic).
struct sink_route {
  std::string topic;
  std::optional<expr::expression> when;  // nullopt: every record
  std::optional<expr::expression> key;   // nullopt: the record's key
  metrics::counter* produced = nullptr;
  metrics::counter* produced_bytes = nullptr;
};

// A pipeline as the workers run it: the validated spec and its compiled
// steps. Immutable once built; shared by every worker thread.
struct topology {
  config::pipeline_spec spec;
  // Declared before the steps, which are bound to its tables: it outlives them.
  std::unique_ptr<tables::table_set> tables;
  std::vector<std::unique_ptr<ops::step>> steps;
  std::optional<expr::expression> event_time;  // path of the event-time field
  std::vector<sink_route> sinks;  // in routing order: a record goes to the first that matches
  pipeline_probe probe;
};

// Compiles the steps and expressions of `spec`. `source_partitions` is the
// source topic's partition count when known (see ops::build_context). Every
// problem goes to `diag`; nullptr when there was any.
std::unique_ptr<topology> build_topology(config::pipeline_spec spec,
                                         std::optional<int> source_partitions,
                                         metrics::registry& metrics, config::diagnostics& diag);

}  // namespace weir::runtime
