#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "weir/kafka/client.h"
#include "weir/runtime/changelog.h"
#include "weir/runtime/task.h"
#include "weir/runtime/topology.h"
#include "weir/state/database.h"

namespace weir::runtime {

// One consumer-group member of one pipeline on its own thread: its consumer,
// its producer and the tasks of its assigned partitions. Nothing here is
// shared with other workers except the database and the metrics. Neither
// copyable nor movable.
class worker {
 public:
  enum class phase : int { starting, running, stopped, failed };

  // `name` names the worker in logs, metrics and as the Kafka client id;
  // `static_member` (from --instance-id) makes it a static group member, so a
  // quick restart keeps its partitions.
  worker(const topology& t, const kafka::client_settings& kafka, state::database& db,
         std::string name, std::optional<std::string> static_member);
  ~worker();
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;

  // Starts the thread. `stop` is the process-wide stop request.
  void start(const std::atomic<bool>& stop);
  void join();
  phase current_phase() const noexcept { return phase_.load(); }
  // Partitions whose state is being rebuilt by replay (exactly_once).
  int restoring() const noexcept { return restoring_.load(std::memory_order_relaxed); }
  // Why the worker failed, once it has.
  const std::string& failure() const noexcept { return failure_; }

 private:
  class producer_sink;
  void run(const std::atomic<bool>& stop);
  core::status loop(const std::atomic<bool>& stop);
  std::vector<kafka::partition_offset> on_assigned(const std::vector<kafka::topic_partition>& tps);
  void on_revoked(const std::vector<kafka::topic_partition>& tps, bool lost);
  // Flushes outputs, writes every task's checkpoint in one batch, commits offsets.
  core::status checkpoint(std::optional<std::chrono::milliseconds> flush_limit = std::nullopt);
  // Leaves the group; the rebalance callbacks it serves take no partitions.
  void close_consumer();
  void on_statistics(const std::string& json);
  bool exactly_once() const noexcept;
  // A task: its stage (index into topology::stages) and input partition.
  using task_key = std::pair<std::size_t, std::int32_t>;
  void restore_done(task_key key);
  // Adds a task's checkpoint to `batch` and produces its changes and
  // progress to the changelog partitions.
  core::status checkpoint_task(const task_key& key, task& t, state::write_batch& batch);
  // Makes the tasks of the newly assigned `tps`, all of stage `st`; those
  // whose local state trails the group's offsets are assigned held and
  // restored from the changelogs by advance_restore() first.
  void assign_stage(std::size_t st, const std::vector<kafka::topic_partition>& tps,
                    std::vector<kafka::partition_offset>& starts);
  // Makes the task of one assigned partition and returns where it starts
  // reading; `restored`: its state was just restored from the changelogs.
  // `group` is the group's committed offset. `event` names it in the log
  // ("partition assigned", "partition resumed" after a restore, ...).
  core::result<std::int64_t> make_task(std::string_view event, std::size_t st,
                                       const kafka::topic_partition& tp, std::int64_t group,
                                       bool restored);
  // Advances the restore from the changelogs by a slice of time, between
  // polls (the consumer keeps serving the group meanwhile); once a job is
  // done, makes its tasks and resumes their partitions.
  core::status advance_restore();
  void drop_restore(const kafka::topic_partition& tp);
  // After an aborted transaction: every task is made again from the local
  // checkpoint (the last committed state) and its partition rewound there.
  core::status rewind();
  // Deletes the records of repartition topics that this worker's tasks have
  // committed past (after a checkpoint, at most every purge interval).
  void purge_repartition_topics();
  core::result<kafka::partition_reader*> changelog_reader();
  void update_watermark_lag();

  const topology& topology_;
  kafka::client_settings kafka_;
  state::database& db_;
  std::string name_;
  std::unique_ptr<kafka::producer> producer_;
  std::unique_ptr<producer_sink> sink_;
  std::unique_ptr<error_reporter> errors_;
  std::unique_ptr<kafka::consumer> consumer_;
  time::system_clock clock_;
  std::map<task_key, std::unique_ptr<task>> tasks_;
  core::status deferred_;  // an error raised inside a rebalance callback
  bool closing_ = false;   // the consumer is closing (close_consumer)
  // Probes of this worker (registered once; shared names across workers).
  metrics::gauge* assigned_ = nullptr;
  metrics::counter* rebalances_ = nullptr;
  metrics::gauge* watermark_lag_ = nullptr;
  std::map<kafka::topic_partition, metrics::gauge*> consumer_lag_;
  metrics::counter* replayed_ = nullptr;
  metrics::gauge* restoring_gauge_ = nullptr;
  metrics::histogram* restore_seconds_ = nullptr;
  std::map<task_key, std::chrono::steady_clock::time_point> restore_started_;
  // Partitions assigned held until their state is restored from the
  // changelogs: waiting, and those of the job running (one stage at a time).
  struct held_partition {
    std::size_t stage;
    kafka::topic_partition tp;
    std::int64_t group;  // the group's committed offset
  };
  std::vector<held_partition> to_restore_;
  std::vector<held_partition> in_job_;
  std::unique_ptr<changelog_restore_job> restore_job_;
  std::chrono::steady_clock::time_point job_started_{};
  // Changelog topics of the stateful steps, by stage; the reader restores
  // from them.
  std::vector<std::vector<changelog>> changelogs_;
  std::unique_ptr<kafka::partition_reader> changelog_reader_;
  // Partitions whose changelog was empty while local state exists (state
  // from before changelogs): their next checkpoint logs the whole state.
  std::set<task_key> seed_;
  // Repartition topics read: offsets committed and not yet purged, and when
  // the next purge is due.
  std::map<kafka::topic_partition, std::int64_t> purgeable_;
  std::chrono::steady_clock::time_point next_purge_{};
  metrics::counter* changelog_restored_ = nullptr;
  metrics::counter* transactions_committed_ = nullptr;  // exactly_once only
  metrics::counter* transactions_aborted_ = nullptr;
  // Transactions aborted since the last one committed; at
  // max_aborts_in_a_row the worker stops.
  int aborts_in_a_row_ = 0;
  static constexpr int max_aborts_in_a_row = 5;
  std::atomic<int> restoring_{0};
  std::atomic<phase> phase_{phase::starting};
  std::string failure_;
  std::thread thread_;
};

}  // namespace weir::runtime
