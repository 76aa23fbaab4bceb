#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  metrics::counter* memory_checkpoints = nullptr;
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

// A part of a pipeline that runs on one partitioning of the records
// (DESIGN.md section 3, grouping). The first stage reads the source topic;
// a window whose group_by is not covered by `source.partitioned_by` (when
// the source has several partitions) starts a new stage, which reads the
// repartition topic `<pipeline>.<step id>.repartition` that the stage before
// writes, keyed and partitioned by the group key. Each upstream task also
// writes its watermark to every partition of that topic; a downstream task's
// watermark is the lowest over the upstream tasks.
struct stage {
  std::string input;  // the topic read: the source or a repartition topic
  // The steps run, as indexes into topology::steps: [first_step, end_step).
  std::size_t first_step = 0;
  std::size_t end_step = 0;
  // Reads what the stage before wrote: event time is the record timestamp,
  // and the watermark comes from the upstream tasks' watermark records.
  bool repartitioned = false;
  // A step of the stage keeps state: its tasks checkpoint it, log it to
  // changelogs and restore it. A stage without starts at the group's offset.
  bool stateful = false;
  // Where the stage's records go when it is not the last: the next stage's
  // input, keyed and partitioned by `keyed_by` (the next stage's first step).
  std::optional<std::string> output;
  const ops::step* keyed_by = nullptr;
  metrics::counter* written = nullptr;  // records written to `output`
  // at_least_once, repartitioned input: records an upstream task wrote
  // again after a restart, recognised and skipped.
  metrics::counter* repeated = nullptr;
};

struct topology;

// The steps (indexes into topology::steps) whose groups the partitioning
// before them does not keep together: on a source with several partitions,
// each starts a stage.
std::vector<std::size_t> regrouping_steps(const topology& t);

// Name of the repartition topic in front of step `step_id`.
std::string repartition_topic(const std::string& pipeline, const std::string& step_id);

// Partition of the repartition topic for a record with group key `key`: a
// 64-bit FNV-1a hash of the key, modulo `partitions`. Stable across
// releases: it decides where each group's state lives.
std::int32_t repartition_partition(std::string_view key, int partitions);

// A pipeline as the workers run it: the validated spec and its compiled
// steps. Immutable once built; shared by every worker thread.
struct topology {
  config::pipeline_spec spec;
  // Declared before the steps, which are bound to its tables: it outlives them.
  std::unique_ptr<tables::table_set> tables;
  std::vector<std::unique_ptr<ops::step>> steps;
  std::optional<expr::expression> event_time;  // path of the event-time field
  std::vector<sink_route> sinks;  // in routing order: a record goes to the first that matches
  // At least one; the last writes to the sinks.
  std::vector<stage> stages;
  // Partition count of the source topic (1 when unknown), which every
  // repartition topic shares.
  int partitions = 1;
  pipeline_probe probe;

  // The stage reading `topic`, or nullptr.
  const stage* stage_of(std::string_view topic) const noexcept {
    for (const auto& s : stages) {
      if (s.input == topic) return &s;
    }
    return nullptr;
  }
  std::size_t stage_index(const stage& s) const noexcept {
    return static_cast<std::size_t>(&s - stages.data());
  }
};

// Compiles the steps and expressions of `spec` and splits them into stages.
// `source_partitions` is the source topic's partition count when known (at
// `weir run`); without it (`weir validate`, `weir test`) the pipeline runs as
// one stage, as on a single-partition source. Every problem goes to `diag`;
// nullptr when there was any.
std::unique_ptr<topology> build_topology(config::pipeline_spec spec,
                                         std::optional<int> source_partitions,
                                         metrics::registry& metrics, config::diagnostics& diag);

}  // namespace weir::runtime
