#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/config/diagnostics.h"
#include "weir/config/pipeline.h"
#include "weir/core/record.h"
#include "weir/core/result.h"
#include "weir/core/time.h"
#include "weir/core/value.h"
#include "weir/expr/table.h"
#include "weir/metrics/registry.h"
#include "weir/state/database.h"

namespace weir::ops {

// A record on its way through the steps of one task.
struct event {
  core::value value;                          // the payload, a JSON object
  std::optional<std::string> key;             // Kafka key, or the group key of a result
  core::millis time = 0;                      // event time
  const core::record_view* source = nullptr;  // the consumed record; null for results
};

// Where a step sends what it produces: the next step, or the sink.
class emitter {
 public:
  virtual ~emitter() = default;
  virtual void emit(event&& e) = 0;
};

// Records that leave the step chain sideways: late records to a side topic,
// (later) dead letters. Written as given, to the topic they name.
class side_output {
 public:
  virtual ~side_output() = default;
  virtual void write(core::output_record&& r) = 0;
};

// What a step instance gets from its task.
struct task_context {
  std::int32_t partition = 0;
  std::string key_prefix;         // prefix of this partition's keys in every store
  state::store* store = nullptr;  // the step's store; null for stateless steps
  side_output* side = nullptr;    // never null in a running task
};

// The per-task part of a step: its mutable state. Owned and called by one
// task on its worker thread only.
class step_instance {
 public:
  virtual ~step_instance() = default;
  // Handles one record. A record error (bad type, ...) is returned and the
  // task deals with it according to `errors.on_error`.
  virtual core::status process(event&& e, emitter& out) = 0;
  // The task's watermark advanced to `wm` (never backwards).
  virtual void on_watermark(core::millis /*wm*/, emitter& /*out*/) {}
  // Wall-clock time passed (`now`, epoch ms): for work on a wall-clock
  // schedule such as `emit: {changes: T}`. Called about every 100 ms.
  virtual void on_tick(core::millis /*now*/, emitter& /*out*/) {}
  // Loads this partition's state from the store (before the first record).
  virtual core::status restore() { return {}; }
  // Adds the state changed since the last checkpoint to `batch`. The task
  // writes the batch to the store before it calls the instance again (a
  // batch that fails to be written ends the task), so the instance may drop
  // what it put in the batch from memory and read it back from the store.
  virtual void checkpoint(state::write_batch& /*batch*/) {}
  // True when the state changed since the last checkpoint has filled the
  // memory the instance may hold (its share of --memory-limit): only a
  // checkpoint lets that state leave memory, so the task asks for one before
  // the commit interval is up.
  virtual bool wants_checkpoint() const noexcept { return false; }
};

// A step as declared in the pipeline file: compiled, immutable after load,
// shared by every task of the pipeline.
class step {
 public:
  virtual ~step() = default;
  const std::string& name() const noexcept { return name_; }
  // Stateful steps get a store named `<pipeline>.<step id>`.
  virtual bool stateful() const noexcept { return false; }
  virtual std::unique_ptr<step_instance> instantiate(const task_context& ctx) const = 0;
  // What the step does, as `weir explain` prints it: one line or a few
  // indented lines, without a trailing newline.
  virtual std::string explain() const { return name_; }

  // Steps that bring the records of one group together (a window's
  // group_by): the fields the group key is made of, which decide whether the
  // input's partitioning already keeps a group in one partition
  // (`source.partitioned_by`); nullptr for other steps.
  virtual const std::vector<std::string>* group_fields() const { return nullptr; }
  // The group key of a record, as bytes equal for the records of one group:
  // what a repartition topic in front of the step is keyed and partitioned
  // by. Only for steps with group_fields().
  virtual core::result<std::string> group_key(const event& e) const;

 protected:
  explicit step(std::string name) : name_(std::move(name)) {}

 private:
  std::string name_;
};

// What a step's parser may look at besides its own entry.
struct build_context {
  const config::pipeline_spec& pipeline;
  metrics::registry& metrics;
  // The pipeline's tables, for `lookup` and `enrich`; they outlive the steps.
  const expr::table_catalog* tables = nullptr;
};

// Builds the step of `spec`, reporting every problem to `diag`; nullptr when
// there were problems.
std::unique_ptr<step> build_step(const config::step_spec& spec, const build_context& ctx,
                                 config::diagnostics& diag);

}  // namespace weir::ops
