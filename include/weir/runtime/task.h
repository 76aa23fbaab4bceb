#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weir/core/record.h"
#include "weir/ops/step.h"
#include "weir/runtime/topology.h"
#include "weir/state/database.h"
#include "weir/time/clock.h"
#include "weir/time/watermark.h"

namespace weir::runtime {

// Where every record a task writes goes — results, late records — each to
// the topic it names: the worker's producer, or a test's list.
using record_sink = ops::side_output;

// Handles record errors by `errors.on_error`: counts them by step and code,
// logs them (rate-limited), writes the failed record with its original bytes
// and weir.error.* headers to the dead-letter topic, or (on_error: fail)
// holds the error so that the worker stops before checkpointing the record.
// Owned by one worker thread.
class error_reporter {
 public:
  // `dead_letters` receives dead-lettered records; null drops them (counted).
  explicit error_reporter(const topology& t, record_sink* dead_letters = nullptr);
  void report(const std::string& step, const core::error& e, const core::record_view* source);
  // The first error under on_error: fail, once; then ok again.
  core::status take_failure() { return std::exchange(failure_, core::status{}); }

 private:
  struct entry {
    std::string step;
    core::errc code;
    metrics::counter* counter;
    std::int64_t last_log_ms = 0;
    std::uint64_t suppressed = 0;
  };
  const topology& topology_;
  record_sink* dead_letters_;
  metrics::counter* dead_lettered_ = nullptr;
  std::vector<entry> entries_;
  core::status failure_;
};

// The processing of one input partition of one stage: decode, event time,
// watermark, the stage's steps in order, the sinks (or the next stage's
// repartition topic). Owned by one worker thread; holds the per-task
// instances of the stage's steps.
class task {
 public:
  task(const topology& t, const stage& st, std::int32_t partition, state::database& db,
       record_sink& sink, error_reporter& errors, const time::clock& clock);
  task(const task&) = delete;
  task& operator=(const task&) = delete;

  // Loads the partition's progress and step state. Returns the offset to
  // start reading at, or nullopt when there is no checkpoint.
  core::result<std::optional<std::int64_t>> restore();

  void process(const core::record_view& r);

  // Raises the watermark to `wm` (never lowers it), closing what it closes.
  // How `weir test` drives event time (advance_watermark_to).
  void advance_watermark_to(core::millis wm);

  // Lets wall-clock time act: an idle partition's watermark follows the
  // clock (watermark.idle_timeout) and windows emitting `changes` publish.
  // The worker calls it between polls; `weir test` after advance_time.
  void tick();

  // The worker was blocked for `ms` (waiting on the broker) and read
  // nothing: not silence of the partition (watermark.idle_timeout).
  void unreadable_for(core::millis ms) noexcept { watermark_.unreadable_for(ms); }

  // Adds the state changed since the last checkpoint and the progress.
  void checkpoint(state::write_batch& batch);
  // A step's state changed since the last checkpoint filled its memory
  // share (--memory-limit): the worker checkpoints before the interval.
  bool wants_checkpoint() const noexcept;

  // Recovery of state that trails the group's committed offset: records
  // before `offset` were already processed and their outputs written; they
  // are processed again to rebuild the state, and what they write is dropped.
  void replay_until(std::int64_t offset) noexcept { replay_until_ = offset; }
  bool replaying(std::int64_t offset) const noexcept { return offset < replay_until_; }

  // Adds the records counted into and out of each step since the last call
  // to the pipeline's counters. The worker calls it every tick.
  void publish_metrics();
  std::int32_t partition() const noexcept { return partition_; }
  const runtime::stage& stage() const noexcept { return stage_; }
  // Next offset to read; -1 until a record was read or progress restored.
  std::int64_t next_offset() const noexcept { return next_offset_; }
  core::millis watermark() const noexcept { return watermark_.current(); }

 private:
  // Links step i to step i+1; the last link writes to the sink.
  class link final : public ops::emitter {
   public:
    link(task& t, std::size_t index) : task_(t), index_(index) {}
    void emit(ops::event&& e) override;

   private:
    task& task_;
    std::size_t index_;
  };

  void advance_watermark();
  void write_to_sink(ops::event&& e);
  // To the next stage's repartition topic, keyed by its first step's group key.
  void write_to_repartition(ops::event&& e);
  // Writes the watermark, when it moved, to every partition of the
  // repartition topic (the stage has an output).
  void publish_watermark();
  // A watermark record from upstream task `from` (repartitioned input).
  void upstream_watermark(const core::record_view& r);
  core::result<core::millis> event_time(const core::value& v, const core::record_view& r) const;

  const topology& topology_;
  const runtime::stage& stage_;
  std::int32_t partition_;
  state::partition_id progress_id_;
  state::database& db_;
  record_sink& sink_;
  error_reporter& errors_;
  const time::clock& clock_;
  time::watermark_tracker watermark_;
  std::vector<std::unique_ptr<ops::step_instance>> steps_;
  std::vector<std::unique_ptr<link>> links_;  // links_[i] feeds step i; the last feeds the sink
  std::int64_t next_offset_ = -1;
  std::int64_t replay_until_ = -1;
  // Per step of the stage, since the last publish_metrics(): plain counts on
  // the hot path.
  std::vector<std::uint64_t> step_in_;
  std::vector<std::uint64_t> step_out_;
  const core::record_view* current_ = nullptr;  // the record being processed
  // Repartitioned input: the watermark of each upstream task, by its partition.
  std::vector<core::millis> upstream_;
  // at_least_once: where each upstream task's records stand, as (its input
  // offset, index among the records written for that offset), the last one
  // applied; a record at or before it is a repeat written after an upstream
  // restart. Kept in `applied_store_` with the checkpoint.
  using upstream_position = std::pair<std::int64_t, std::int64_t>;
  bool repeat(const core::record_view& r);
  std::vector<upstream_position> applied_;
  bool applied_dirty_ = false;
  state::store* applied_store_ = nullptr;
  // at_least_once, output to a repartition topic: the input offset and
  // index of the last record written.
  upstream_position written_{-1, -1};
  // Output to a repartition topic: the watermark last written there.
  core::millis published_ = core::min_time;
  core::millis next_publish_ = core::min_time;  // wall clock
};

}  // namespace weir::runtime
